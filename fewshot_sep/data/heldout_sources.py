"""The project's held-out sound sources: the robustness suite's "new sound source" test.

DESIGN.md reserves two sources for this test only (never training, never model
selection):

- ``freepats``: the FreePats GUS patch set (Debian ``freepats``) played by
  TiMidity++ (Debian ``timidity``), with TiMidity's reverb and chorus off;
- ``avldrums-blackpearl`` / ``avldrums-redzeppelin``: the two acoustic kits of
  the AVL Drumkits (Debian ``avldrums.lv2-soundfont``) played by FluidSynth.
  Both imitate an acoustic GM kit and are labelled Drum Kit: Standard.

`fewshot_sep.data.soundfonts` refuses these names for training data.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from fewshot_sep.data.gm import DRUM_OFFSET, is_drum
from fewshot_sep.data.synth import SAMPLE_RATE, render_notes
from fewshot_sep.utils.errors import UserError

FREEPATS_CONFIG = Path("/etc/timidity/freepats.cfg")
AVLDRUMS = {
    "avldrums-blackpearl": Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"),
    "avldrums-redzeppelin": Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2"),
}
HELDOUT_SOURCES: tuple[str, ...] = ("freepats", *AVLDRUMS)
STANDARD_KIT = DRUM_OFFSET + 0
"""Label of every held-out kit (FreePats drumset 0 and both AVL kits are acoustic GM kits)."""
PACKAGES = ("freepats", "timidity", "avldrums.lv2-soundfont")
TIMIDITY_GAIN = 0.5
"""Scales TiMidity's output to the level of the FluidR3 renders of the same parts (median RMS within about 1 dB)."""


def check_heldout_sources() -> None:
    """Raise `UserError` naming the Debian packages to install when a held-out source is missing."""
    missing = [pkg for pkg, ok in (("freepats", FREEPATS_CONFIG.is_file()),
                                   ("timidity", shutil.which("timidity") is not None),
                                   ("avldrums.lv2-soundfont", all(p.is_file() for p in AVLDRUMS.values())))
               if not ok]
    if missing:
        raise UserError(f"the robustness suite's held-out sound sources are not installed ({', '.join(missing)}): "
                        f"run `bash scripts/setup.sh` as root, or `apt-get install --no-install-recommends "
                        f"{' '.join(missing)}`")


@lru_cache(maxsize=1)
def freepats_instruments() -> frozenset[int]:
    """Instrument labels FreePats has a patch for: melodic programs of bank 0 and the Standard kit."""
    programs: set[int] = set()
    section = None
    for line in FREEPATS_CONFIG.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("bank", "drumset")):
            section = line.split()[0] + " " + line.split()[1]
            continue
        match = re.match(r"(\d+)\s+\S+\.pat", line)
        if match and section == "bank 0":
            programs.add(int(match.group(1)))
        elif match and section == "drumset 0":
            programs.add(STANDARD_KIT)
    return frozenset(programs)


def source_instruments(source: str) -> frozenset[int]:
    """Instrument labels that held-out `source` can play."""
    if source == "freepats":
        return freepats_instruments()
    if source in AVLDRUMS:
        return frozenset({STANDARD_KIT})
    raise UserError(f"held-out source {source!r} is unknown: use one of {', '.join(HELDOUT_SOURCES)}")


def _write_midi(path: Path, instrument: int, notes: np.ndarray) -> None:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    part = pretty_midi.Instrument(program=0 if is_drum(instrument) else instrument, is_drum=is_drum(instrument))
    for start, end, pitch, velocity in np.asarray(notes, np.float64).reshape(-1, 4):
        part.notes.append(pretty_midi.Note(velocity=int(velocity), pitch=int(pitch), start=float(start),
                                           end=float(max(end, start + 0.01))))
    pm.instruments.append(part)
    pm.write(str(path))


def _render_timidity(instrument: int, notes: np.ndarray, num_samples: int) -> np.ndarray:
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="fewshot-sep-timidity-") as tmp:
        midi, wav = Path(tmp) / "part.mid", Path(tmp) / "part.wav"
        _write_midi(midi, instrument, notes)
        # --preserve-silence keeps the MIDI's time 0 at sample 0 (TiMidity drops leading
        # silence by default); effects off: stems are dry, as the training stems.
        cmd = ["timidity", "-c", str(FREEPATS_CONFIG), "-Ow", "--output-mono", "-s", str(SAMPLE_RATE),
               "-EFreverb=d", "-EFchorus=d", "--preserve-silence", "-o", str(wav), str(midi)]
        done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        if done.returncode != 0 or not wav.is_file():
            raise RuntimeError(f"timidity failed ({done.returncode}): {done.stderr.strip()[-300:]}")
        audio, rate = sf.read(str(wav), dtype="float32", always_2d=False)
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"timidity wrote {rate} Hz, expected {SAMPLE_RATE}")
    out = np.zeros(num_samples, np.float32)
    n = min(num_samples, len(audio))
    out[:n] = audio[:n] * TIMIDITY_GAIN
    return out


def render_heldout(source: str, instrument: int, notes: np.ndarray, num_samples: int) -> np.ndarray:
    """Render `notes` (``[n, 4]``: start s, end s, pitch, velocity) of `instrument` with a
    held-out source; float32 ``[num_samples]`` mono at 44.1 kHz, dry, time 0 at sample 0."""
    if instrument not in source_instruments(source):
        raise UserError(f"held-out source {source!r} has no sound for instrument {instrument}")
    if source == "freepats":
        return _render_timidity(instrument, notes, num_samples)
    return render_notes(AVLDRUMS[source], 0, 0, notes, num_samples)


__all__ = ["HELDOUT_SOURCES", "check_heldout_sources", "freepats_instruments", "render_heldout",
           "source_instruments", "STANDARD_KIT"]
