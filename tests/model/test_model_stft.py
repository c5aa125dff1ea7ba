"""Torch STFT framing: frame count, frame position, and a mask of ones reconstructs the input delayed
by n_fft - 1 samples."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fewshot_sep.model import stft as S  # noqa: E402


@pytest.mark.parametrize("n", [256, 1000, 44100, 44100 + 77])
def test_round_trip_is_a_delay_of_n_fft_minus_1(n):
    x = torch.from_numpy(np.random.default_rng(n).uniform(-0.5, 0.5, (2, n)).astype(np.float32))
    spec = S.stft(x)
    assert spec.shape == (2, 513, n // 256)
    y = S.istft(spec, n)
    assert y.shape == (2, n)
    lat = S.LATENCY_SAMPLES
    assert lat == 1023
    # every output sample that is complete after the last frame is the delayed input
    valid = n - 255  # the last hop - 1 samples wait for the next frame
    if valid > lat:
        assert (y[:, lat:valid] - x[:, : valid - lat]).abs().max() < 1e-5
    assert y[:, :lat].abs().max() < 1e-6


def test_frame_k_covers_documented_samples():
    """An impulse at sample s appears exactly in frames k with k*hop+hop-n_fft <= s < k*hop+hop."""
    s = 3000
    x = torch.zeros(1, 8192)
    x[0, s] = 1.0
    energy = S.stft(x).abs().sum(dim=1)[0]
    hann = torch.hann_window(1024, periodic=True)
    for k in range(energy.shape[0]):
        start = k * 256 + 256 - 1024
        inside = start <= s < start + 1024
        expected = float(hann[s - start]) * 513 if inside else 0.0
        # |rfft(impulse * w)| is w[pos] at every bin
        assert abs(float(energy[k]) - expected) < 1e-3


def test_overlap_gain_constant():
    assert abs(S.overlap_gain() - 1.5) < 1e-6
