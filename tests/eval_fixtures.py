"""Helpers of the evaluation tests: a tiny synthetic dataset and a gain model double.

`make_synthetic_dataset` writes stems + ``manifest.csv`` in the renderer's
format (docs/data.md) without FluidSynth: each instrument is a fixed harmonic
timbre in its own frequency band (bands do not overlap), playing random notes
per work, so targets and interferers are spectrally disjoint: "easy" episodes
where the oracle mask must separate well.

`make_positive_gain_model` is the ``gain`` separator double of
`model_doubles` (mask = clip(conditioning[0], 0, 1)) with an encoder whose
embedding is a constant positive unit vector, so the few-shot estimate is
exactly ``mixture * 1/sqrt(E)``: its SI-SDR must equal the mixture's when the
harness compensates the latency correctly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

SR = 44100
# instrument -> (fundamental range in Hz, harmonic amplitudes)
TIMBRES = {
    32: ((50.0, 90.0), [1.0, 0.3]),          # acoustic bass (seen)
    0: ((250.0, 350.0), [1.0, 0.3]),         # piano (seen)
    110: ((800.0, 1000.0), [1.0, 0.2]),      # fiddle (unseen)
    43: ((2200.0, 2600.0), [1.0]),           # contrabass (unseen; the register does not matter here)
    73: ((4000.0, 4800.0), [1.0]),           # flute (seen)
}


def test_work_ids(count: int) -> list[str]:
    """`count` work ids whose piece split is ``test``."""
    from fewshot_sep.data.split import piece_split

    ids, i = [], 0
    while len(ids) < count:
        wid = f"synthetic:test-{i}"
        if piece_split(wid) == "test":
            ids.append(wid)
        i += 1
    return ids


def _stem(rng: np.random.Generator, instrument: int, n: int) -> np.ndarray:
    (lo, hi), harmonics = TIMBRES[instrument]
    t = np.arange(n) / SR
    out = np.zeros(n, np.float64)
    note_len = int(0.5 * SR)
    for start in range(0, n, note_len):
        f0 = rng.uniform(lo, hi)
        seg = t[start : start + note_len] - t[start]
        env = np.minimum(1.0, seg / 0.01) * np.exp(-1.5 * seg)
        tone = sum(a * np.sin(2 * np.pi * f0 * (h + 1) * seg) for h, a in enumerate(harmonics))
        out[start : start + note_len] = env * tone
    return (0.25 * out / np.abs(out).max()).astype(np.float32)


def make_synthetic_dataset(folder: Path, n_works: int = 4, seconds: float = 6.0, seed: int = 0) -> Path:
    """Write ``folder/stems/...flac`` and ``folder/manifest.csv``; returns `folder`."""
    import soundfile as sf

    from fewshot_sep.data.gm import family_of, instrument_name, slug
    from fewshot_sep.data.manifest import encode_activity, n_activity_frames, write_manifest
    from fewshot_sep.data.split import split_of

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    rows = []
    for w, work_id in enumerate(test_work_ids(n_works)):
        for part, instrument in enumerate(TIMBRES):
            audio = _stem(rng, instrument, n)
            rel = f"stems/work{w}/{part:02d}_{slug(instrument)}.flac"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(folder / rel), audio, SR, subtype="PCM_16")
            rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
            rows.append({
                "path": rel, "instrument": instrument, "instrument_name": instrument_name(instrument),
                "program": instrument, "is_drum": 0, "kit": -1, "family": family_of(instrument),
                "soundfont": "synthetic", "work_id": work_id, "source": "tests", "role": "melody",
                "part_index": part, "transpose": 0, "split": split_of(instrument, work_id),
                "duration_s": round(n / SR, 4), "num_samples": n, "active_ratio": 1.0,
                "rms_db": round(20 * np.log10(rms), 2), "peak_db": round(20 * np.log10(np.abs(audio).max()), 2),
                "silent": 0, "activity": encode_activity(np.ones(n_activity_frames(n), bool)),
            })
    write_manifest(folder / "manifest.csv", rows)
    return folder


def make_positive_gain_model(tmp_path: Path) -> Path:
    """The gain separator double with a constant-embedding encoder (embedding = ones / sqrt(E))."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from model_doubles import EMBEDDING_DIM, N_BINS, OPSET, make_model_folder

    folder = make_model_folder(Path(tmp_path), kind="gain")
    const = np.full((1, EMBEDDING_DIM), 1.0 / np.sqrt(EMBEDDING_DIM), np.float32)
    nodes = [
        # [N,1,F,T] -> [N,1] (anything with the batch size), times 0, plus the constant row
        helper.make_node("ReduceMean", ["magnitude"], ["m"], axes=[1, 2, 3], keepdims=0),  # [N]
        helper.make_node("Unsqueeze", ["m", "axis1"], ["m2"]),  # [N,1]
        helper.make_node("Mul", ["m2", "zero"], ["z"]),
        helper.make_node("Add", ["z", "const"], ["embedding"]),  # broadcast [N,E]
    ]
    graph = helper.make_graph(
        nodes, "encoder_constant",
        [helper.make_tensor_value_info("magnitude", TensorProto.FLOAT, ["N", 1, N_BINS, "T"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", EMBEDDING_DIM])],
        [numpy_helper.from_array(const, "const"), helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
         helper.make_tensor("axis1", TensorProto.INT64, [1], [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    encoder_bytes = model.SerializeToString()
    (folder / "encoder.onnx").write_bytes(encoder_bytes)
    card = json.loads((folder / "model_card.json").read_text())
    card["model_id"] = hashlib.sha256((folder / "separator.onnx").read_bytes() + encoder_bytes).hexdigest()[:16]
    card["name"] = "test-double-positive-gain"
    (folder / "model_card.json").write_text(json.dumps(card, indent=2))
    return folder


# instrument -> fundamental range (Hz) of the robust-set double; 1 is a family mate of 0
# (Piano) and 41 of 43 (Strings), so confusable episodes exist; 128 is a drum kit.
ROBUST_TIMBRES = {0: (250.0, 350.0), 1: (420.0, 520.0), 32: (50.0, 90.0), 41: (1200.0, 1500.0),
                  43: (2200.0, 2600.0), 110: (800.0, 1000.0), 128: (0.0, 0.0)}
ROBUST_SOURCES = {"fluidr3": [1.0, 0.3], "freepats": [1.0, 0.6, 0.3]}  # harmonic amplitudes per source


def _robust_stem(rng: np.random.Generator, instrument: int, harmonics: list[float], n: int) -> np.ndarray:
    if instrument >= 128:  # noise bursts: a drum-kit stand-in
        out = np.zeros(n)
        for start in range(0, n, SR // 4):
            burst = rng.standard_normal(min(2000, n - start)) * np.exp(-np.arange(min(2000, n - start)) / 300)
            out[start:start + len(burst)] = burst
        return (0.25 * out / np.abs(out).max()).astype(np.float32)
    lo, hi = ROBUST_TIMBRES[instrument]
    t = np.arange(int(0.5 * SR)) / SR
    out = np.zeros(n)
    for start in range(0, n, len(t)):
        f0 = rng.uniform(lo, hi)
        tone = np.minimum(1.0, t / 0.01) * np.exp(-1.5 * t) * sum(a * np.sin(2 * np.pi * f0 * (h + 1) * t)
                                                                   for h, a in enumerate(harmonics))
        out[start:start + len(t)] = tone[: n - start]
    return (0.25 * out / np.abs(out).max()).astype(np.float32)


def make_synthetic_robust_set(folder: Path, n_works: int = 6, seconds: float = 6.0, seed: int = 0) -> Path:
    """A robust-set double in `fewshot_sep.data.robust_set`'s layout without FluidSynth or TiMidity:
    every work rendered with a "training" (``fluidr3``) and a "held-out" (``freepats``; drums
    ``avldrums-blackpearl``) timbre, even works in the ``generator`` stream, odd ones ``texture``."""
    import soundfile as sf

    from fewshot_sep.data.gm import family_of, instrument_name, slug
    from fewshot_sep.data.manifest import encode_activity, n_activity_frames, write_manifest
    from fewshot_sep.data.split import instrument_status

    folder = Path(folder)
    n = int(seconds * SR)
    rows = []
    for w in range(n_works):
        work_id = f"robust-test-{w}"
        stream = "generator:tests" if w % 2 == 0 else "texture:tests"
        for part, instrument in enumerate(ROBUST_TIMBRES):
            notes_rng = np.random.default_rng([seed, w, part])  # same notes in both sources
            for source, harmonics in ROBUST_SOURCES.items():
                name = "avldrums-blackpearl" if instrument >= 128 and source == "freepats" else source
                audio = _robust_stem(np.random.default_rng(notes_rng.integers(1 << 30)), instrument, harmonics, n)
                rel = f"stems/work{w}/{name}/{part:02d}_{slug(instrument)}.flac"
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(folder / rel), audio, SR, subtype="PCM_16")
                drum = instrument >= 128
                rows.append({
                    "path": rel, "instrument": instrument, "instrument_name": instrument_name(instrument),
                    "program": -1 if drum else instrument, "is_drum": int(drum), "kit": 0 if drum else -1,
                    "family": family_of(instrument), "soundfont": name, "work_id": work_id, "source": stream,
                    "role": "melody", "part_index": part, "transpose": 0,
                    "split": "test_unseen" if instrument_status(instrument) == "unseen" else "test",
                    "duration_s": round(n / SR, 4), "num_samples": n, "active_ratio": 1.0, "rms_db": -15.0,
                    "peak_db": -12.0, "silent": 0, "activity": encode_activity(np.ones(n_activity_frames(n), bool)),
                })
    write_manifest(folder / "manifest.csv", rows)
    return folder
