"""scripts/band_oracle.py: band-constant oracle masks (width 1 is the plain IRM)."""

import numpy as np

from script_helpers import load_script


def _load_script():
    return load_script("band_oracle")


def test_band_masks_are_constant_per_band_and_width_one_is_the_irm():
    from fewshot_sep.eval.oracle import ideal_ratio_mask
    from fewshot_sep.realtime.stft import HOP, N_FFT, stft

    rng = np.random.default_rng(0)
    t = np.arange(44100) / 44100
    target = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    mixture = (target + 0.1 * rng.standard_normal(t.size)).astype(np.float32)
    target_mag = np.abs(stft(target, N_FFT, HOP))
    rest_mag = np.abs(stft(mixture - target, N_FFT, HOP))
    band_ratio_mask = _load_script().band_ratio_mask

    assert np.allclose(band_ratio_mask(target_mag, rest_mag, 1), ideal_ratio_mask(target, mixture), atol=1e-6)
    wide = band_ratio_mask(target_mag, rest_mag, 16)
    assert wide.shape == target_mag.shape and 0.0 <= wide.min() and wide.max() <= 1.0
    assert np.allclose(wide[0:16], wide[0:1]) and np.allclose(wide[512:], wide[512:513])  # last band: 1 bin
    # the sine's band keeps most of it, a noise-only band much less
    tone_band = int(440 / (44100 / N_FFT)) // 16 * 16
    assert np.median(wide[tone_band]) > 0.8 > 0.3 > np.median(wide[320])
