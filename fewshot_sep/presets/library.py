"""The user's preset library: one ``NAME.json`` per preset in the user data folder.

The folder is ``platformdirs.user_data_dir("fewshot-sep")/presets`` (on Linux
``~/.local/share/fewshot-sep/presets``); the environment variable ``FEWSHOT_SEP_HOME``
replaces ``user_data_dir("fewshot-sep")`` (tests, portable installs). Names are
checked by `fewshot_sep.presets.names` and matched case-insensitively; every write
is atomic (temp file + rename), and every check-then-write or load-change-save
holds the folder's lock (`fewshot_sep.utils.atomic.folder_lock`), so two processes
saving, adding to or renaming presets at once never lose an update or overwrite a
preset without ``--force``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fewshot_sep.presets.format import Preset, load_preset, save_preset, utc_now
from fewshot_sep.presets.names import check_name, did_you_mean, name_key
from fewshot_sep.utils.atomic import folder_lock
from fewshot_sep.utils.errors import UserError

HOME_ENV = "FEWSHOT_SEP_HOME"


def library_dir() -> Path:
    """The library folder (not created until something is saved)."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "presets"
    import platformdirs

    return Path(platformdirs.user_data_dir("fewshot-sep")) / "presets"


def library_entries() -> list[tuple[str, Path]]:
    """``[(name, path)]`` of the presets in the library, sorted case-insensitively.

    Files whose stem is not a valid preset name (stray files) are left out.
    """
    folder = library_dir()
    if not folder.is_dir():
        return []
    entries = []
    for path in folder.glob("*.json"):
        if path.name.startswith("."):
            continue  # atomic-write temp files
        try:
            check_name(path.stem)
        except UserError:
            continue
        entries.append((path.stem, path))
    return sorted(entries, key=lambda e: name_key(e[0]))


def library_names() -> list[str]:
    """Names of the presets in the library."""
    return [name for name, _ in library_entries()]


def find_in_library(name: str) -> Path | None:
    """Path of the library preset called `name` (case-insensitive), or None.

    Raises:
        UserError: `name` is not a valid preset name (e.g. contains a path separator).
    """
    key = name_key(check_name(name))
    return next((path for n, path in library_entries() if name_key(n) == key), None)


def _require(name: str) -> Path:
    path = find_in_library(name)
    if path is None:
        names = library_names()
        raise UserError(
            f"no preset named {name!r}{did_you_mean(name, names)} in your library ({library_dir()}); "
            f"your presets: {', '.join(names) or 'none yet'} (see `fewshot-sep preset list`)"
        )
    return path


def library_target(name: str, overwrite: bool, replacing: Path | None = None) -> Path:
    """Library path for a new preset called `name`; refuses to clobber unless `overwrite`."""
    name = check_name(name)
    existing = find_in_library(name)
    if existing is not None and existing != replacing and not overwrite:
        raise UserError(
            f"a preset named {existing.stem!r} is already in your library ({existing}): choose another "
            "name, or pass --force to replace it"
        )
    return library_dir() / f"{name}.json"


def save_to_library(preset: Preset, overwrite: bool = False) -> Path:
    """Save `preset` as ``<library>/<preset.name>.json`` atomically; returns the path."""
    with folder_lock(library_dir()):
        target = library_target(preset.name, overwrite)
        existing = find_in_library(preset.name)
        save_preset(preset, target)
        if existing is not None and existing.name != target.name and existing.exists() and not _same_file(existing, target):
            existing.unlink()  # replaced a preset whose name differed only by case
        return target


def save_new_preset(preset: Preset, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Save `preset` to the file `path`, refusing to replace an existing file unless `overwrite`.

    The existence check and the write hold the folder's lock, so two processes
    saving to the same new file cannot both succeed.
    """
    path = Path(path)
    with folder_lock(path.parent):
        if path.exists() and not overwrite:
            raise UserError(f"{str(path)!r} already exists: choose another file, or pass --force to replace it")
        return save_preset(preset, path)


def update_preset_file(path: str | os.PathLike, change, output: str | os.PathLike | None = None,
                       overwrite: bool = False) -> Preset:
    """Load the preset at `path`, apply ``change(preset) -> Preset`` and save the result (to `output`,
    default `path`), holding the folder's lock from the load to the save: a change made by
    another process in between is never lost (the second waits and changes the newer version)."""
    path = Path(path)
    output = path if output is None else Path(output)
    with folder_lock(output.parent):
        if output != path and output.exists() and not overwrite:
            raise UserError(f"{str(output)!r} already exists: choose another file, or pass --force to replace it")
        updated = change(load_preset(path))
        save_preset(updated, output)
        updated.source = str(output)
        return updated


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def rename_in_library(old: str, new: str, overwrite: bool = False) -> Path:
    """Rename library preset `old` to `new` (file and stored name); returns the new path."""
    with folder_lock(library_dir()):
        source = _require(old)
        new = check_name(new)
        preset = load_preset(source)
        target = library_target(new, overwrite, replacing=source)
        preset.name = new
        preset.modified = utc_now()
        save_preset(preset, target)
        if source.exists() and not _same_file(source, target):
            source.unlink()
        return target


def delete_from_library(name: str) -> Path:
    """Delete library preset `name`; returns the path that was removed."""
    with folder_lock(library_dir()):
        path = _require(name)
        path.unlink()
        return path
