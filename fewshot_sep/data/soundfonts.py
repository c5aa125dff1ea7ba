"""Soundfonts allowed for training data, by short name.

DESIGN.md allows FluidR3_GM and TimGM6mb (default) and csound-soundfont's GM
bank (optional, Debian package ``csound-soundfont``). FreePats and the AVL
drum kits are the robustness suite's held-out sources
(`fewshot_sep.data.heldout_sources`); MuseScore General (every variant) and any
other soundfont are reserved for independent evaluation: asking for one of
these raises `UserError`.
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
SYNTH_SOURCE = "synth"
"""The project's own synthesised instruments (`fewshot_sep.data.synth_instruments`): a training
source without a file, playing only the GM programs it imitates."""


def playable_instruments(name: str) -> frozenset[int] | None:
    """Instruments training source `name` can play (None: every GM program and kit)."""
    if name == SYNTH_SOURCE:
        from fewshot_sep.data.synth_instruments import SYNTH_PROGRAMS

        return frozenset(SYNTH_PROGRAMS)
    return None


def soundfont_path(name: str) -> Path:
    """Path of training soundfont `name`; `UserError` if unknown, forbidden or not installed."""
    key = name.strip().lower()
    if "musescore" in key or "mscore" in key:
        raise UserError(f"soundfont {name!r} is reserved for independent evaluation (DESIGN.md): "
                        f"use one of {', '.join(SOUNDFONTS)}")
    if key.startswith(("freepats", "avldrums")):
        raise UserError(f"sound source {name!r} is held out for the robustness suite (DESIGN.md): it never "
                        f"enters training; use one of {', '.join(SOUNDFONTS)}")
    if key == SYNTH_SOURCE:
        raise UserError(f"{name!r} is the project's synthesised source, not a soundfont file")
    if key not in SOUNDFONTS:
        raise UserError(f"unknown soundfont {name!r}: use one of {', '.join(SOUNDFONTS)} or {SYNTH_SOURCE} "
                        f"(--soundfonts)")
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
        key = n.strip().lower()
        if key != SYNTH_SOURCE:
            soundfont_path(n)
        if key not in out:
            out.append(key)
    if not out:
        raise UserError("no soundfont given: use e.g. --soundfonts fluidr3,timgm6mb")
    return tuple(out)
