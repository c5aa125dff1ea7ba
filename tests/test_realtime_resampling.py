"""Host rates other than the model's: the soxr FIFOs never underrun, whatever the block pattern."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.realtime.engine import StreamingSeparator, aligned_model_delay


def test_aligned_model_delay_is_a_whole_number_of_host_samples():
    for host in (22050, 48000, 88200, 96000):
        d = aligned_model_delay(1023, host, 44100)
        assert 1023 <= d < 1023 + 147 and (d * host) % 44100 == 0


@pytest.mark.parametrize("rate", [22050, 48000, 96000])
def test_no_underrun_for_awkward_block_patterns(identity_model, rate):
    engine = StreamingSeparator(identity_model, sample_rate=rate, num_channels=2)
    rng = np.random.default_rng(rate)
    x = (rng.standard_normal((2, 4 * rate)) * 0.1).astype(np.float32)
    # bursts of 1-sample calls, then large and random calls
    sizes = [1] * 3000 + [8192, 8192] + list(rng.integers(0, 8193, size=40)) + [7] * 500
    pos = 0
    for size in sizes:
        if pos >= x.shape[1]:
            break
        engine.process_block(x[:, pos : pos + size])
        pos += size
    assert engine.underruns == 0


def test_an_underrun_is_a_dropout_not_a_timing_shift(identity_model, monkeypatch):
    """With a too small output-FIFO prefill the output has holes, but what comes out keeps its timing."""
    import fewshot_sep.realtime.engine as engine_module

    down, up = engine_module.resampler_lag_bounds(48000, 44100, "HQ")
    monkeypatch.setattr(engine_module, "resampler_lag_bounds", lambda *a, **k: (down, up - 400))
    engine = StreamingSeparator(identity_model, sample_rate=48000, num_channels=1)
    n = 48000
    t = np.arange(n) / 48000
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)[None]
    y = np.concatenate([engine.process_block(x[:, i : i + 256]) for i in range(0, n, 256)], axis=1)
    assert engine.underruns > 0
    L = engine.latency_samples
    out, expected = y[0, L + 2000 :], x[0, 2000 : n - L]
    hole = out == 0.0
    assert 0.05 < hole.mean() < 0.9
    np.testing.assert_allclose(out[~hole], expected[~hole], atol=1e-3)
