"""Soundfonts allowed for training data, by short name.

DESIGN.md allows FluidR3_GM and TimGM6mb (default) and csound-soundfont's GM
bank (optional, Debian package ``csound-soundfont``). MuseScore General (every
variant) and any other soundfont are reserved for independent evaluation:
asking for one raises `UserError`.
"""

from __future__ import annotations

from pathlib import Path

from fewshot_sep.utils.errors import UserError

SOUNDFONTS: dict[str, tuple[str, str]] = {
    # name: (path, Debian package)
    "fluidr3": ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "fluid-soundfont-gm"),
    "timgm6mb": ("/usr/share/sounds/sf2/TimGM6mb.sf2", "timgm6mb-soundfont"),
    "csound": ("/usr/share/sounds/sf2/sf_GMbank.sf2", "csound-soundfont"),
}
DEFAULT_SOUNDFONTS: tuple[str, ...] = ("fluidr3", "timgm6mb")


def soundfont_path(name: str) -> Path:
    """Path of training soundfont `name`; `UserError` if unknown, forbidden or not installed."""
    key = name.strip().lower()
    if "musescore" in key or "mscore" in key:
        raise UserError(f"soundfont {name!r} is reserved for independent evaluation (DESIGN.md): "
                        f"use one of {', '.join(SOUNDFONTS)}")
    if key not in SOUNDFONTS:
        raise UserError(f"unknown soundfont {name!r}: use one of {', '.join(SOUNDFONTS)} (--soundfonts)")
    path, package = SOUNDFONTS[key]
    if not Path(path).is_file():
        raise UserError(f"soundfont {name!r} is not installed ({path} missing): "
                        f"run `apt-get install {package}` as root")
    return Path(path)


def parse_soundfonts(names: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Normalise a comma-separated string or list of soundfont names; checks each one."""
    if names is None:
        names = DEFAULT_SOUNDFONTS
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    out = []
    for n in names:
        soundfont_path(n)
        key = n.strip().lower()
        if key not in out:
            out.append(key)
    if not out:
        raise UserError("no soundfont given: use e.g. --soundfonts fluidr3,timgm6mb")
    return tuple(out)
