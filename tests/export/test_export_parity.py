"""Exported graphs equal the torch model (< 1e-4) for dynamic T and B, states included."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from export_helpers import TINY_CONFIG, conditioning, magnitude, session

TOL = 1e-4


@pytest.fixture(scope="module")
def exported(tiny_export):
    model, result = tiny_export
    card = json.loads((result.folder / "model_card.json").read_text())
    return model, result.folder, card, result


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("frames", [1, 7, 64])
def test_separator_matches_torch_with_random_states(exported, batch, frames):
    model, out, card, _ = exported
    rng = np.random.default_rng(100 * batch + frames)
    sess = session(out / "separator.onnx")
    mag = magnitude(rng, batch, frames)
    cond = conditioning(rng, batch)
    states = [(0.5 * rng.standard_normal(s.shape)).astype(np.float32)
              for s in model.separator.initial_states(batch)]
    feed = {"magnitude": mag, "conditioning": cond, **{f"state_{i}": s for i, s in enumerate(states)}}
    got = sess.run(None, feed)
    with torch.no_grad():
        ref = model.separator(torch.from_numpy(mag), torch.from_numpy(cond), *map(torch.from_numpy, states))
    assert len(got) == len(ref) == 1 + len(card["separator"]["states"])
    assert got[0].shape == (batch, 1, 513, frames)
    for g, r in zip(got, ref):
        assert g.shape == tuple(r.shape)
        np.testing.assert_allclose(g, r.numpy(), atol=TOL, rtol=0)
    # The states really enter the computation (else this test could not see a mix-up).
    with torch.no_grad():
        ref_zero = model.separator(torch.from_numpy(mag), torch.from_numpy(cond))
    assert np.max(np.abs(ref_zero[0].numpy() - ref[0].numpy())) > 1e-3


@pytest.mark.parametrize("clips", [1, 3])
@pytest.mark.parametrize("frames", [1, 7, 172])
def test_encoder_matches_torch(exported, clips, frames):
    model, out, _, _ = exported
    rng = np.random.default_rng(clips * 1000 + frames)
    mag = magnitude(rng, clips, frames)
    (got,) = session(out / "encoder.onnx").run(None, {"magnitude": mag})
    with torch.no_grad():
        ref = model.encoder(torch.from_numpy(mag)).numpy()
    assert got.shape == (clips, TINY_CONFIG["model"]["embedding_dim"])
    np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)


def test_conditioning_changes_the_mask(exported):
    """Guards the test model itself: with another conditioning the mask differs."""
    model, out, card, _ = exported
    rng = np.random.default_rng(7)
    sess = session(out / "separator.onnx")
    mag = magnitude(rng, 1, 4)
    states = {s["name"]: np.zeros([1] + s["shape"][1:], np.float32) for s in card["separator"]["states"]}
    a = sess.run(["mask"], {"magnitude": mag, "conditioning": conditioning(rng, 1), **states})[0]
    b = sess.run(["mask"], {"magnitude": mag, "conditioning": conditioning(rng, 1), **states})[0]
    assert np.max(np.abs(a - b)) > 1e-3


def test_io_names_and_dynamic_axes(exported):
    model, out, card, _ = exported
    sep = session(out / "separator.onnx")
    n = len(card["separator"]["states"])
    assert [i.name for i in sep.get_inputs()] == ["magnitude", "conditioning"] + [f"state_{i}" for i in range(n)]
    assert [o.name for o in sep.get_outputs()] == ["mask"] + [f"state_{i}_out" for i in range(n)]
    mag_in = sep.get_inputs()[0].shape
    assert isinstance(mag_in[0], str) and isinstance(mag_in[3], str) and mag_in[1:3] == [1, 513]
    for spec, inp, outp in zip(card["separator"]["states"], sep.get_inputs()[2:], sep.get_outputs()[1:]):
        assert inp.shape[1:] == spec["shape"][1:] == outp.shape[1:]
        assert isinstance(inp.shape[0], str) and isinstance(outp.shape[0], str)
    enc = session(out / "encoder.onnx")
    assert [i.name for i in enc.get_inputs()] == ["magnitude"]
    assert [o.name for o in enc.get_outputs()] == ["embedding"]
