"""Timbre augmentation (fewshot_sep.train.batches.augment): what it keeps and what it changes."""

import numpy as np
import pytest

from fewshot_sep.train.batches import SAMPLE_RATE, AugmentConfig, augment


def reference_augment(signals: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """The plain definition: every row through one long zero-padded FFT, curve in float64,
    drawing the parameters in augment's order (knots, tilt, reverb?, RT60, IR, wet)."""
    n = signals.shape[-1]
    n_fft = int(np.ceil((n + int(cfg.reverb_rt60[1] * SAMPLE_RATE)) / 4096.0)) * 4096
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    spectra = np.fft.rfft(signals.astype(np.float64), n_fft, axis=-1)
    for row in range(signals.shape[0]):
        db = rng.uniform(-cfg.eq_db, cfg.eq_db, 8)
        curve_db = np.interp(octaves, np.linspace(-5.7, 4.5, 8), db) + rng.uniform(-cfg.tilt_db, cfg.tilt_db) * octaves
        response = 10.0 ** (curve_db / 20.0)
        if rng.random() < cfg.reverb_prob:
            rt60 = rng.uniform(*cfg.reverb_rt60)
            t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
            ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)
            ir *= rng.uniform(*cfg.reverb_wet) / (np.sqrt(np.sum(ir ** 2)) + 1e-9)
            ir[0] += 1.0
            response = response * np.fft.rfft(ir, n_fft)
        spectra[row] *= response
    out = np.fft.irfft(spectra, n_fft, axis=-1)[:, :n]
    rms_in = np.sqrt(np.mean(signals.astype(np.float64) ** 2, axis=-1, keepdims=True)) + 1e-8
    return out * rms_in / (np.sqrt(np.mean(out ** 2, axis=-1, keepdims=True)) + 1e-8)


def _signals(rows: int = 12, seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tones = np.sin(2 * np.pi * rng.uniform(60, 4000, (rows, 1)) * t) * (t < rng.uniform(0.3, 1.0, (rows, 1)))
    return (0.3 * tones + 0.05 * rng.standard_normal((rows, len(t)))).astype(np.float32)


@pytest.mark.parametrize("reverb_prob", [0.0, 0.5, 1.0])
def test_augment_matches_the_plain_definition(reverb_prob):
    """Shorter FFTs for EQ-only rows and a float32 curve change the output by < -60 dB."""
    x = _signals()
    cfg = AugmentConfig(reverb_prob=reverb_prob)
    got = augment(x, np.random.default_rng(11), cfg)
    want = reference_augment(x, np.random.default_rng(11), cfg)
    assert got.dtype == np.float32 and got.shape == x.shape
    err_db = 10 * np.log10(np.sum((got - want) ** 2, axis=-1) / np.sum(want ** 2, axis=-1))
    assert err_db.max() < -60.0, err_db


def test_augment_keeps_rms_changes_timbre_and_is_deterministic():
    x = _signals()
    cfg = AugmentConfig(reverb_prob=0.5)
    a = augment(x, np.random.default_rng(5), cfg)
    b = augment(x, np.random.default_rng(5), cfg)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.sqrt(np.mean(a ** 2, -1)), np.sqrt(np.mean(x ** 2, -1)), rtol=1e-3)
    assert np.all(np.abs(a - x).max(axis=-1) > 1e-3)  # every row was filtered
    assert augment(x, np.random.default_rng(5), AugmentConfig(enabled=False)) is x
