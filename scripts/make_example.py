"""Regenerate the bundled example under fewshot_sep/assets/example/ (deterministic).

One generated work with five seen instruments (piano, acoustic bass, violin,
flute, standard drum kit) rendered with FluidR3_GM: aligned stems and their mix,
plus short solo clips of each instrument from other generated works (for
building presets in the demo), described by example.json.

Usage: python scripts/make_example.py [--out fewshot_sep/assets/example]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from fewshot_sep.data.generator import generate_parts
from fewshot_sep.data.gm import instrument_name, slug
from fewshot_sep.data.render import stem_audio
from fewshot_sep.data.soundfonts import soundfont_path
from fewshot_sep.data.split import instrument_status
from fewshot_sep.utils.atomic import atomic_path, write_json_atomic

SR = 44100
SEED = 20240
SOUNDFONT = "fluidr3"
INSTRUMENTS = ((0, "comp"), (32, "bass"), (40, "melody"), (73, "arp"), (128, "drums"))
MIX_SECONDS = 7.0
CLIP_SECONDS = 2.5
CLIPS_PER_INSTRUMENT = 2


def _write(path: Path, audio: np.ndarray) -> None:
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), pcm, SR, format="FLAC", subtype="PCM_16", compression_level=1.0)
    path.chmod(0o644)


def make_example(out: Path) -> dict:
    """Write the example into `out` (replacing it); returns the description."""
    assert all(instrument_status(i) == "seen" for i, _ in INSTRUMENTS)
    sf_path = soundfont_path(SOUNDFONT)
    if out.exists():
        shutil.rmtree(out)
    (out / "stems").mkdir(parents=True)
    (out / "clips").mkdir()
    n = int(MIX_SECONDS * SR)
    parts, facts = generate_parts(np.random.default_rng(SEED), list(INSTRUMENTS), MIX_SECONDS + 2.0)
    mix = np.zeros(n, np.float32)
    desc = {"sample_rate": SR, "seconds": MIX_SECONDS, "soundfont": SOUNDFONT, "work_id": f"example-{SEED}",
            "music": facts, "mix": "mix.flac", "instruments": []}
    for k, part in enumerate(parts):
        audio, _ = stem_audio(sf_path, part.instrument, part.notes, n)
        audio = audio.copy()
        audio[-2205:] *= np.linspace(1.0, 0.0, 2205, dtype=np.float32)  # 50 ms fade-out at the cut
        stem_rel = f"stems/{slug(part.instrument)}.flac"
        _write(out / stem_rel, audio)
        mix += audio
        clips = []
        for c in range(CLIPS_PER_INSTRUMENT):
            rng = np.random.default_rng([SEED, part.instrument, c + 1])
            solo, _ = generate_parts(rng, [(part.instrument, part.role)], CLIP_SECONDS + 2.0)
            m = int(CLIP_SECONDS * SR)
            clip, _ = stem_audio(sf_path, part.instrument, solo[0].notes, m)
            clip_rel = f"clips/{slug(part.instrument)}_{c + 1}.flac"
            _write(out / clip_rel, clip)
            clips.append(clip_rel)
        desc["instruments"].append({"instrument": part.instrument, "name": instrument_name(part.instrument),
                                    "role": part.role, "stem": stem_rel, "clips": clips})
    peak = float(np.abs(mix).max())
    if peak > 0.98:
        mix *= 0.98 / peak
    _write(out / "mix.flac", mix)
    write_json_atomic(out / "example.json", desc)
    (out / "example.json").chmod(0o644)
    return desc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "fewshot_sep" / "assets" / "example"))
    args = parser.parse_args()
    desc = make_example(Path(args.out))
    total = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    print(f"wrote {args.out}: {len(desc['instruments'])} instruments, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
