"""The exported separator streams: frames fed one by one (or in uneven chunks) through
onnxruntime with the states carried equal one call over all frames (< 1e-4)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from export_helpers import conditioning, magnitude, session, zero_states

TOL = 1e-4


@pytest.fixture(scope="module")
def model_dir(tiny_export):
    return tiny_export[1].folder


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("chunks", [[1] * 24, [5, 1, 11, 7]])
def test_streaming_equals_one_call(model_dir, batch, chunks):
    card = json.loads((model_dir / "model_card.json").read_text())
    sess = session(model_dir / "separator.onnx")
    rng = np.random.default_rng(batch)
    frames = sum(chunks)
    mag = magnitude(rng, batch, frames)
    cond = conditioning(rng, batch)
    full = sess.run(None, {"magnitude": mag, "conditioning": cond, **zero_states(card, batch)})

    states = zero_states(card, batch)
    names = list(states)
    masks = []
    start = 0
    for size in chunks:
        outs = sess.run(None, {"magnitude": np.ascontiguousarray(mag[..., start:start + size]),
                               "conditioning": cond, **states})
        masks.append(outs[0])
        states = dict(zip(names, outs[1:]))
        start += size
    streamed = np.concatenate(masks, axis=-1)
    np.testing.assert_allclose(streamed, full[0], atol=TOL, rtol=0)
    for name, ref in zip(names, full[1:]):
        np.testing.assert_allclose(states[name], ref, atol=TOL, rtol=0)
    # Output frame t must not depend on later frames (lookahead 0 in the card).
    assert card["lookahead_frames"] == 0
    changed = mag.copy()
    changed[..., frames // 2:] *= 3.0
    again = sess.run(["mask"], {"magnitude": changed, "conditioning": cond, **zero_states(card, batch)})[0]
    np.testing.assert_allclose(again[..., :frames // 2], full[0][..., :frames // 2], atol=TOL, rtol=0)
    assert np.max(np.abs(again[..., frames // 2:] - full[0][..., frames // 2:])) > 1e-4
