"""SI-SDR (own numpy implementation) against fast_bss_eval, and SDR plumbing."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.eval.metrics import sdr, si_sdr, si_sdr_improvement

fast_bss_eval = pytest.importorskip("fast_bss_eval")


@pytest.mark.parametrize("noise_level", [0.01, 0.3, 1.0, 5.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_si_sdr_matches_fast_bss_eval(noise_level, seed):
    rng = np.random.default_rng(seed)
    n = 20000
    reference = rng.standard_normal(n)
    # estimate = scaled reference + noise + a little of a filtered copy (not just white noise)
    estimate = 0.7 * reference + noise_level * rng.standard_normal(n) + 0.1 * np.convolve(reference, [0.5, 0.3], "same")
    ours = si_sdr(reference, estimate)
    theirs = float(fast_bss_eval.si_sdr(reference[None], estimate[None], zero_mean=False)[0])
    assert ours == pytest.approx(theirs, abs=1e-3)


def test_si_sdr_matches_on_audio_like_signals():
    rng = np.random.default_rng(7)
    t = np.arange(44100) / 44100
    reference = (0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)).astype(np.float32)
    estimate = (reference + 0.05 * np.sin(2 * np.pi * 330 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    theirs = float(fast_bss_eval.si_sdr(reference[None].astype(np.float64), estimate[None].astype(np.float64))[0])
    assert si_sdr(reference, estimate) == pytest.approx(theirs, abs=1e-3)


def test_si_sdr_is_scale_invariant_and_rewards_better_estimates():
    rng = np.random.default_rng(3)
    s = rng.standard_normal(8000)
    noise = rng.standard_normal(8000)
    good, bad = s + 0.1 * noise, s + 1.0 * noise
    assert si_sdr(s, good) == pytest.approx(si_sdr(s, 5.0 * good), abs=1e-9)
    assert si_sdr(s, good) == pytest.approx(si_sdr(0.2 * s, good), abs=1e-9)
    assert si_sdr(s, good) > si_sdr(s, bad) + 15
    # white noise 10x below: about +20 dB
    assert si_sdr(s, good) == pytest.approx(20.0, abs=0.5)


def test_si_sdr_improvement_of_the_mixture_is_zero():
    rng = np.random.default_rng(4)
    s, other = rng.standard_normal(4000), rng.standard_normal(4000)
    mix = s + other
    assert si_sdr_improvement(s, mix, mix) == 0.0
    assert si_sdr_improvement(s, s + 0.1 * other, mix) > 15


def test_si_sdr_rejects_bad_input():
    with pytest.raises(ValueError):
        si_sdr(np.zeros(10), np.ones(10))
    with pytest.raises(ValueError):
        si_sdr(np.ones(10), np.ones(11))


def test_perfect_and_empty_estimates_are_clamped():
    s = np.random.default_rng(5).standard_normal(1000)
    assert si_sdr(s, s) == 100.0
    assert si_sdr(s, np.zeros_like(s)) == -100.0
    assert si_sdr(s, -s) == 100.0  # scale invariance includes the sign, as in fast_bss_eval


def test_sdr_orders_estimates_and_allows_short_filters():
    rng = np.random.default_rng(6)
    s = rng.standard_normal(30000)
    noise = rng.standard_normal(30000)
    assert sdr(s, s + 0.1 * noise) > sdr(s, s + 1.0 * noise) + 15
    # a short FIR-filtered estimate is "distortion", not error, for BSS-eval SDR ...
    filtered = np.convolve(s, [1.0, 0.6, -0.2], "full")[: s.size]
    assert sdr(s, filtered) > 40
    # ... but it is error for SI-SDR
    assert si_sdr(s, filtered) < 10
