"""Find a preset from what the user typed: ``builtin:NAME``, a library name, or a JSON path.

Every preset that is resolved for use is checked against the model it will drive:
embeddings from another model's encoder mean nothing to this separator.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from fewshot_sep.presets.format import Preset, load_preset
from fewshot_sep.presets.names import did_you_mean, name_key
from fewshot_sep.utils.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from fewshot_sep.realtime.model_files import ModelFiles

BUILTIN_PREFIX = "builtin:"


def builtin_dir() -> Path:
    """Folder of the presets shipped in the package (``fewshot_sep/assets/presets``)."""
    return Path(str(resources.files("fewshot_sep"))) / "assets" / "presets"


def list_builtins() -> dict[str, Path]:
    """``{name: path}`` of the built-in presets, sorted by name (empty if none are installed)."""
    folder = builtin_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.json"))}


def check_model(preset: Preset, model: "ModelFiles", builtin: bool = False) -> None:
    """Raise UserError unless `preset` was made with `model` (same model id and embedding size)."""
    if preset.model_id == model.model_id and preset.embedding_dim == int(model.embedding_dim):
        return
    where = f"preset {preset.name!r}" + (f" ({preset.source})" if preset.source else "")
    if builtin:
        how = (
            "the installed package is inconsistent: rebuild the built-in presets with "
            "`python scripts/build_builtin_presets.py --model MODEL_DIR` (from the source tree), "
            "or reinstall fewshot-sep"
        )
    else:
        how = f"rebuild it from its example files with this model:\n  {preset.rebuild_command()}"
    raise UserError(
        f"{where} was made with model {preset.model_id} (embedding size {preset.embedding_dim}) but the "
        f"model in use is {model.model_id} (embedding size {model.embedding_dim}) from {model.folder}; "
        f"presets only work with the model that made them: {how}"
    )


def _looks_like_path(ref: str) -> bool:
    return ref.lower().endswith(".json") or "/" in ref or "\\" in ref or os.sep in ref


def load_ref(ref: "str | os.PathLike") -> tuple[Preset, bool]:
    """Load a preset by reference without a model check; returns ``(preset, is_builtin)``.

    Raises:
        UserError: unknown built-in or library name (listing what exists), or an invalid file.
    """
    if isinstance(ref, Path):
        return load_preset(ref), False
    ref = str(ref)
    if ref.startswith(BUILTIN_PREFIX):
        name = ref[len(BUILTIN_PREFIX):]
        builtins = list_builtins()
        match = next((p for n, p in builtins.items() if name_key(n) == name_key(name)), None)
        if match is None:
            available = ", ".join(BUILTIN_PREFIX + n for n in builtins) or "none are installed in this package"
            hint = did_you_mean(name, {n: BUILTIN_PREFIX + n for n in builtins})
            raise UserError(f"unknown built-in preset {ref!r}{hint}: available: {available}")
        return load_preset(match), True
    if _looks_like_path(ref) or Path(ref).is_file():
        return load_preset(ref), False
    from fewshot_sep.presets.library import find_in_library, library_names

    path = find_in_library(ref)
    if path is None:
        names = library_names()
        builtins = list_builtins()
        raise UserError(
            f"no preset named {ref!r}{name_hint(ref, names)} in your library "
            f"({os.fspath(_library_dir_for_message())}); "
            f"your presets: {', '.join(names) or 'none yet'}; built-ins: "
            f"{', '.join(BUILTIN_PREFIX + n for n in builtins) or 'none installed'}. "
            "Give a library name, builtin:NAME, or a path to a .json preset file"
        )
    return load_preset(path), False


def name_hint(typed: str, library: list[str]) -> str:
    """`did_you_mean` over the library's names and the built-ins (``violn`` -> ``builtin:violin``)."""
    candidates = {n: n for n in library}
    for n in list_builtins():
        candidates.setdefault(n, BUILTIN_PREFIX + n)
        candidates[BUILTIN_PREFIX + n] = BUILTIN_PREFIX + n
    return did_you_mean(typed, candidates)


def _library_dir_for_message() -> Path:
    from fewshot_sep.presets.library import library_dir

    return library_dir()


def resolve_preset(ref: "str | os.PathLike", model: "ModelFiles | None" = None) -> Preset:
    """Load the preset `ref` and check it against `model` (None = the packaged model).

    Args:
        ref: ``builtin:NAME``, a name in the user library, or a path to a preset JSON file.
        model: the model the preset will drive.

    Raises:
        UserError: unknown name, malformed file, or a preset made with another model (the
            message says how to rebuild it).
    """
    from fewshot_sep.realtime.model_files import ModelFiles

    preset, is_builtin = load_ref(ref)
    check_model(preset, ModelFiles.load(model), builtin=is_builtin)
    return preset


def import_preset(path: str | os.PathLike, name: str | None = None, overwrite: bool = False) -> Path:
    """Validate the preset file `path` (or ``builtin:NAME``) and copy it into the library.

    `name` renames the copy. The model is not checked here (a library may hold presets
    for several models); it is checked when the preset is used.
    """
    from fewshot_sep.presets.library import save_to_library
    from fewshot_sep.presets.names import check_name

    if str(path).startswith(BUILTIN_PREFIX):
        preset, _ = load_ref(str(path))
    else:
        preset = load_preset(path)
    if name is not None:
        preset.name = check_name(name)
    return save_to_library(preset, overwrite=overwrite)


def export_preset(ref: str | os.PathLike, output: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a validated copy of the preset `ref` (library name, builtin:NAME or path) to `output`."""
    from fewshot_sep.presets.library import save_new_preset

    output = Path(output)
    if output.is_dir():
        raise UserError(f"{str(output)!r} is a folder: give the output file name, e.g. {str(output / 'preset.json')!r}")
    if output.exists() and not overwrite:
        raise UserError(f"{str(output)!r} already exists: choose another file or pass --force to replace it")
    preset, _ = load_ref(ref)
    return save_new_preset(preset, output, overwrite)
