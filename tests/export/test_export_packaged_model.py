"""The model shipped in the package (fewshot_sep/assets/model) is a consistent export:
card valid and matching the files' hash, graph I/O as the card says, small."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from fewshot_sep.realtime.model_files import ModelFiles, packaged_model_dir



def test_the_package_ships_a_model():
    assert (packaged_model_dir() / "model_card.json").is_file(), "export one with bash scripts/export_release.sh"


def test_packaged_model_is_consistent():
    model = ModelFiles.load(packaged_model_dir())  # checks every card field and the content hash
    card = model.card
    assert card["training"]["status"] in ("trained", "untrained")
    assert model.latency_samples == model.n_fft - 1 + model.lookahead_frames * model.hop_length
    total = sum(p.stat().st_size for p in model.folder.iterdir())
    assert total < 20e6, f"packaged model is {total / 1e6:.1f} MB; keep it under 20 MB"

    sep = ort.InferenceSession(str(model.separator_path), providers=["CPUExecutionProvider"])
    names = [s.name for s in model.states]
    assert [i.name for i in sep.get_inputs()] == ["magnitude", "conditioning", *names]
    assert [o.name for o in sep.get_outputs()] == ["mask", *[f"{n}_out" for n in names]]
    batch, frames = 2, 3
    feed = {"magnitude": np.ones((batch, 1, 513, frames), np.float32),
            "conditioning": np.zeros((batch, model.conditioning_dim), np.float32),
            **{s.name: np.zeros(s.concrete_shape(batch), np.float32) for s in model.states}}
    outs = sep.run(None, feed)
    assert outs[0].shape == (batch, 1, 513, frames)
    assert np.all((outs[0] >= 0) & (outs[0] <= 1))
    for spec, out in zip(model.states, outs[1:]):
        assert out.shape == spec.concrete_shape(batch)

    enc = ort.InferenceSession(str(model.encoder_path), providers=["CPUExecutionProvider"])
    frames = int(model.min_clip_seconds * model.sample_rate) // model.hop_length
    (emb,) = enc.run(None, {"magnitude": np.ones((2, 1, 513, frames), np.float32)})
    assert emb.shape == (2, model.embedding_dim)
