"""Numpy STFT: framing, round trip, streaming == offline, agreement with the torch twin."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.realtime.stft import (
    HOP,
    N_FFT,
    StreamingAnalysis,
    StreamingSynthesis,
    hann_periodic,
    istft,
    overlap_gain,
    stft,
)


def _noise(channels: int, n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, n)) * 0.1).astype(np.float32)


def test_window_and_overlap_gain():
    w = hann_periodic()
    assert w.shape == (N_FFT,) and w[0] == 0.0 and w[N_FFT // 2] == pytest.approx(1.0)
    assert overlap_gain() == pytest.approx(1.5, abs=1e-7)


def test_frame_k_covers_the_documented_samples():
    x = np.zeros((1, 4 * HOP), dtype=np.float32)
    x[0, 2 * HOP] = 1.0  # impulse at sample 512
    spec = stft(x)
    assert spec.shape == (1, N_FFT // 2 + 1, 4)
    # frame k covers [k*hop + hop - n_fft, k*hop + hop) -> the impulse sits at offset 512 - (k*hop - 768)
    for k in range(4):
        offset = 2 * HOP - (k * HOP + HOP - N_FFT)
        expected = hann_periodic()[offset] if offset < N_FFT else 0.0
        assert np.abs(spec[0, 0, k]) == pytest.approx(expected, abs=1e-6)  # DC bin = windowed sum


def test_round_trip_is_the_input_delayed_by_n_fft_minus_one():
    x = _noise(2, 20000)
    y = istft(stft(x), x.shape[-1])
    latency = N_FFT - 1
    np.testing.assert_allclose(y[:, latency:], x[:, :-latency], atol=1e-6)
    assert np.all(y[:, : HOP - 1] == 0.0)


@pytest.mark.parametrize("block", [1, 65, 256, 1000])
def test_streaming_analysis_and_synthesis_equal_offline(block):
    x = _noise(2, 9000, seed=block)
    analysis = StreamingAnalysis(2, max_block=max(block, 1))
    synthesis = StreamingSynthesis(2, max_block=max(block, 1), delay=N_FFT - 1)
    spectra, out = [], np.zeros_like(x)
    for start in range(0, x.shape[1], block):
        spec = analysis.push(x[:, start : start + block])
        spectra.append(spec.copy())
        synthesis.add_frames(np.fft.irfft(spec, n=N_FFT, axis=-1))
        synthesis.read(out[:, start : start + block])
    streamed = np.concatenate(spectra, axis=1)
    offline = stft(x)
    assert streamed.shape[1] == offline.shape[-1] == x.shape[1] // HOP
    np.testing.assert_allclose(np.swapaxes(streamed, 1, 2), offline, atol=1e-5)
    np.testing.assert_allclose(out, istft(offline, x.shape[1]), atol=1e-6)


def test_synthesis_refuses_to_read_unfinished_samples():
    synthesis = StreamingSynthesis(1, max_block=512, delay=N_FFT - 1)
    with pytest.raises(RuntimeError, match="underrun"):
        synthesis.read(np.zeros((1, 512), dtype=np.float32))


def test_numpy_and_torch_stft_agree():
    torch = pytest.importorskip("torch")
    torch_stft = pytest.importorskip("fewshot_sep.model.stft")
    x = _noise(2, 5000, seed=3)
    spec_np = stft(x)
    spec_t = torch_stft.stft(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(spec_np, spec_t, atol=1e-4)
    mask = np.random.default_rng(1).uniform(size=spec_np.shape).astype(np.float32)
    y_np = istft(spec_np * mask, x.shape[1])
    y_t = torch_stft.istft(torch.from_numpy(spec_np * mask), x.shape[1]).numpy()
    np.testing.assert_allclose(y_np, y_t, atol=1e-5)
