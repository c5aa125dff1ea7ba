"""Helpers for the data-layer tests: a tiny real render (cached per session) and a
synthetic dataset of tones with a known structure for the episode sampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from fewshot_sep.data.manifest import write_manifest
from fewshot_sep.data.render import analyse_stem, render_dataset

_RENDERS: dict[tuple, Path] = {}


def tiny_render(tmp_path_factory, hours: float = 0.01, seed: int = 0, use_corpus: bool = False) -> Path:
    """Render (once per session and parameter set) a tiny dataset with the real renderer."""
    key = (hours, seed, use_corpus)
    if key not in _RENDERS:
        out = tmp_path_factory.mktemp(f"render_{seed}_{hours}")
        render_dataset(out, hours=hours, seed=seed, workers=1, use_corpus=use_corpus, gen_seconds=(5.0, 8.0),
                       progress=False, log=lambda m: None)
        _RENDERS[key] = out
    return _RENDERS[key]


SYNTH_INSTRUMENTS = (0, 24, 33, 40, 73, 128)
SYNTH_FREQS = {0: 220.0, 24: 330.0, 33: 55.0, 40: 660.0, 73: 880.0, 128: 110.0}


def synthetic_dataset(folder: Path, n_works: int = 12, seconds: float = 8.0, seed: int = 0) -> Path:
    """Write a dataset of tone stems: every work has 4 of `SYNTH_INSTRUMENTS`, one
    soundfont, stems gated on and off by work; works 0..8 "train", the rest "test".

    The tone frequency identifies the instrument and the amplitude (0.05 + 0.01 * work)
    identifies the work, so a test can check where audio came from.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * 44100)
    t = np.arange(n) / 44100.0
    rows = []
    for w in range(n_works):
        work_id = f"synthwork-{w:02d}"
        split = "train" if w < 9 else "test"
        insts = [int(i) for i in rng.choice(SYNTH_INSTRUMENTS, size=4, replace=False)]
        for k, inst in enumerate(insts):
            gate = np.ones(n)
            off = int(rng.integers(0, n // 2))
            gate[off: off + n // 4] = 0.0  # a silent stretch, so crops must look at activity
            audio = ((0.05 + 0.01 * w) * np.sin(2 * np.pi * SYNTH_FREQS[inst] * t) * gate).astype(np.float32)
            rel = f"stems/{work_id}/{k:02d}_{inst}.flac"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(folder / rel), (audio * 32767).astype(np.int16), 44100, format="FLAC", subtype="PCM_16")
            from fewshot_sep.data.gm import DRUM_OFFSET, family_of, instrument_name, is_drum

            rows.append({
                "path": rel, "instrument": inst, "instrument_name": instrument_name(inst),
                "program": -1 if is_drum(inst) else inst, "is_drum": int(is_drum(inst)),
                "kit": inst - DRUM_OFFSET if is_drum(inst) else -1, "family": family_of(inst),
                "soundfont": "timgm6mb", "work_id": work_id, "source": "test:tones", "role": "melody",
                "part_index": k, "transpose": 0, "split": split, "duration_s": round(n / 44100, 4),
                "num_samples": n, **analyse_stem(audio),
            })
    write_manifest(folder / "manifest.csv", rows)
    return folder
