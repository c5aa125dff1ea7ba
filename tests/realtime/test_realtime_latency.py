"""latency_samples is exact: an impulse through the identity double comes out latency_samples later."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.realtime.engine import StreamingSeparator


def _stream(engine: StreamingSeparator, x: np.ndarray, block: int) -> np.ndarray:
    return np.concatenate([engine.process_block(x[:, i : i + block]) for i in range(0, x.shape[1], block)], axis=1)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("block", [1, 65, 512])
def test_impulse_at_model_rate(identity_model, channels, block):
    engine = StreamingSeparator(identity_model, sample_rate=44100, num_channels=channels)
    assert engine.latency_samples == identity_model.latency_samples == 1023
    n = 6000 if block == 1 else 12000
    x = np.zeros((channels, n), dtype=np.float32)
    x[0, 1500] = 1.0
    x[-1, 4000] = -0.5
    y = _stream(engine, x, block)
    assert np.argmax(np.abs(y[0])) == 1500 + 1023
    assert np.argmax(np.abs(y[-1])) == (4000 if channels == 2 else 1500) + 1023
    expected = np.zeros_like(x)
    expected[:, 1023:] = x[:, :-1023]
    np.testing.assert_allclose(y, expected, atol=1e-6)


@pytest.mark.parametrize("rate", [22050, 48000, 88200, 96000])
def test_impulse_and_band_limited_signal_with_resampling(identity_model, rate):
    engine = StreamingSeparator(identity_model, sample_rate=rate, num_channels=2)
    L = engine.latency_samples
    # the STFT's 1023 model samples plus a few milliseconds of resampling filters
    assert 1023 * rate / 44100 < L < 1023 * rate / 44100 + 0.007 * rate  # 22.05 kHz: 5.9 ms
    n = L + 3 * rate // 4
    x = np.zeros((2, n), dtype=np.float32)
    x[0, 3000] = 1.0
    x[1, 5000] = 1.0
    y = _stream(engine, x, 256)
    for channel, position in ((0, 3000), (1, 5000)):
        # the resamplers are linear phase with an integer total delay: the peak sits exactly on L,
        # and the parabola through the three top samples puts it there to within 0.01 sample
        k = int(np.argmax(y[channel]))
        assert k == position + L
        a, b, c = y[channel, k - 1 : k + 2].astype(np.float64)
        assert abs(0.5 * (a - c) / (a - 2 * b + c)) < 0.01
    # a signal well inside every resampler's pass band comes out as the input shifted by L
    engine.reset()
    t = np.arange(n) / rate
    tones = sum(np.sin(2 * np.pi * f * t + f) for f in (110.0, 1234.0, 5555.0, 9000.0)) * 0.2
    x = np.stack([tones, -tones]).astype(np.float32)
    y = _stream(engine, x, 300)
    settle = 200  # the resamplers' start-up transient (their filters are < 3 ms long)
    np.testing.assert_allclose(y[:, L + settle :], x[:, settle : n - L], atol=1e-3)
    assert engine.underruns == 0
