"""The bundled example: small, described by example.json, stems aligned and summing to the mix."""

import json
from pathlib import Path

import numpy as np
import soundfile as sf

import fewshot_sep
from fewshot_sep.data.split import instrument_status

EXAMPLE = Path(fewshot_sep.__file__).parent / "assets" / "example"


def test_example_is_small_and_consistent():
    total = sum(p.stat().st_size for p in EXAMPLE.rglob("*") if p.is_file())
    assert total < 2_000_000
    desc = json.loads((EXAMPLE / "example.json").read_text())
    assert 4 <= len(desc["instruments"]) <= 5
    mix, sr = sf.read(str(EXAMPLE / desc["mix"]), dtype="float32")
    assert sr == 44100 and mix.ndim == 1
    total_stems = np.zeros_like(mix)
    for inst in desc["instruments"]:
        assert instrument_status(inst["instrument"]) == "seen"
        stem, sr = sf.read(str(EXAMPLE / inst["stem"]), dtype="float32")
        assert sr == 44100 and stem.shape == mix.shape
        assert np.sqrt(np.mean(stem ** 2)) > 1e-3
        total_stems += stem
        assert len(inst["clips"]) >= 2
        for clip in inst["clips"]:
            audio, sr = sf.read(str(EXAMPLE / clip), dtype="float32")
            assert sr == 44100 and len(audio) >= 44100
    scale = np.dot(mix, total_stems) / np.dot(total_stems, total_stems)  # mix may be peak-limited
    assert np.max(np.abs(mix - scale * total_stems)) < 2e-3
