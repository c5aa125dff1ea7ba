"""Bad input to the engine gives clear UserErrors or is handled as documented."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.realtime.engine import StreamingSeparator
from fewshot_sep.utils.errors import UserError


@pytest.fixture
def engine(identity_model):
    return StreamingSeparator(identity_model, num_channels=2)


@pytest.mark.parametrize(
    "block, message",
    [
        (np.zeros((3, 64), dtype=np.float32), r"expected \[2, n\]"),
        (np.zeros((64, 2), dtype=np.float32), r"pass block.T"),
        (np.zeros(64, dtype=np.float32), r"expected \[2, n\]"),
        (np.zeros((2, 8193), dtype=np.float32), "0..8192"),
        (np.zeros((2, 64), dtype=np.int16), "dtype int16"),
        ([[0.0] * 4, [0.0] * 4], "numpy array"),
    ],
)
def test_bad_blocks_raise(engine, block, message):
    with pytest.raises(UserError, match=message):
        engine.process_block(block)


def test_wrong_out_buffer(engine):
    with pytest.raises(UserError, match="out has shape"):
        engine.process_block(np.zeros((2, 64), dtype=np.float32), out=np.zeros((2, 32), dtype=np.float32))


def test_float64_and_views_are_accepted(engine, identity_model):
    x = np.random.default_rng(0).standard_normal((4000, 2)) * 0.1  # [n, C] float64, like sounddevice
    other = StreamingSeparator(identity_model, num_channels=2)
    out = np.zeros((4000, 2), dtype=np.float32)
    for i in range(0, 4000, 500):
        engine.process_block(x[i : i + 500].T, out=out[i : i + 500].T)
    ref = np.concatenate([other.process_block(x[i : i + 500].T.astype(np.float32)) for i in range(0, 4000, 500)], 1)
    np.testing.assert_array_equal(out.T, ref)


def test_empty_block(engine):
    assert engine.process_block(np.zeros((2, 0), dtype=np.float32)).shape == (2, 0)


def test_nan_and_inf_are_replaced_by_zero(engine, identity_model):
    x = (np.random.default_rng(1).standard_normal((2, 3000)) * 0.1).astype(np.float32)
    bad = x.copy()
    bad[0, 100] = np.nan
    bad[1, 1700] = np.inf
    clean = x.copy()
    clean[0, 100] = 0.0
    clean[1, 1700] = 0.0
    y = np.concatenate([engine.process_block(bad[:, i : i + 512]) for i in range(0, 3000, 512)], axis=1)
    ref_engine = StreamingSeparator(identity_model, num_channels=2)
    ref = np.concatenate([ref_engine.process_block(clean[:, i : i + 512]) for i in range(0, 3000, 512)], axis=1)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y, ref)
    assert engine.nonfinite_blocks == 2 and ref_engine.nonfinite_blocks == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sample_rate": 32000}, "32000 Hz is not supported"),
        ({"sample_rate": 0}, "sample rate 0"),
        ({"num_channels": 3}, "num_channels 3"),
        ({"mode": "karaoke"}, "mode 'karaoke'"),
        ({"mix": 1.5}, "mix 1.5"),
        ({"conditioning": np.zeros(5, dtype=np.float32)}, r"expects \[33\]"),
        ({"stereo": "mid"}, "stereo mode 'mid'"),
        ({"resample_quality": "best"}, "resample_quality 'best'"),
    ],
)
def test_bad_construction(identity_model, kwargs, message):
    with pytest.raises(UserError, match=message):
        StreamingSeparator(identity_model, **kwargs)


def test_bad_parameter_changes(engine):
    with pytest.raises(UserError, match="mix -0.1"):
        engine.mix = -0.1
    with pytest.raises(UserError, match="mode 'both'"):
        engine.mode = "both"
    with pytest.raises(UserError, match="NaN"):
        engine.set_conditioning(np.full(33, np.nan, dtype=np.float32))
    assert engine.mix == 1.0 and engine.mode == "isolate"
