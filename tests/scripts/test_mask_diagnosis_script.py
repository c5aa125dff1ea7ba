"""scripts/mask_diagnosis.py: band smoothing, the coarse/fine recombinations, and a mask read back
from a system's estimate that reproduces the system's own score."""

from types import SimpleNamespace

import numpy as np
import pytest

from script_helpers import load_script

SR = 44100


def test_band_smoothing_keeps_band_constant_masks_and_weights_by_energy():
    script = load_script("mask_diagnosis")
    rng = np.random.default_rng(0)
    constant = np.repeat(rng.uniform(size=(2, 32, 5)), 16, axis=1)
    constant = np.concatenate([constant, constant[:, -1:]], axis=1)          # [2, 513, 5]
    power = rng.uniform(0.1, 2.0, size=constant.shape)
    np.testing.assert_allclose(script.band_smooth(constant, power, 16), constant, rtol=1e-6)

    mask = np.zeros((513, 1))
    mask[:8, 0] = 1.0                        # half of the first band of 16 bins is on...
    power = np.ones((513, 1))
    power[:8, 0] = 3.0                       # ...and holds three quarters of its energy
    assert script.band_smooth(mask, power, 16)[0, 0] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="--band-width 10 is invalid"):
        script.band_smooth(mask, power, 10)


def test_recombinations_give_each_part_back():
    script = load_script("mask_diagnosis")
    rng = np.random.default_rng(1)
    model, ideal = rng.uniform(0.05, 0.95, size=(2, 513, 4)), rng.uniform(0.05, 0.95, size=(2, 513, 4))
    power = rng.uniform(0.1, 1.0, size=(2, 513, 4))
    masks = script.mask_variants(model, ideal, power, 16)
    assert set(masks) == set(script.MASK_VARIANTS)
    np.testing.assert_array_equal(masks["model"], model)
    np.testing.assert_allclose(masks["model, band-smoothed"], script.band_smooth(model, power, 16))
    # the model's coarse part times the ideal's fine part: the ideal's shape inside each band,
    # scaled to the model's band mean (masks within 0.3..0.5, so nothing is clipped)
    model, ideal = 0.3 + 0.2 * model, 0.3 + 0.2 * ideal
    ratio = script.mask_variants(model, ideal, power, 16)["model coarse, ideal fine"] / ideal
    per_band = ratio[:, :512].reshape(2, 32, 16, 4)
    np.testing.assert_allclose(per_band, per_band[:, :, :1].repeat(16, axis=2), rtol=1e-5)
    same = script.mask_variants(ideal, ideal, power, 16)
    np.testing.assert_allclose(same["model coarse, ideal fine"], ideal, atol=1e-4)
    np.testing.assert_allclose(same["ideal coarse, model fine"], ideal, atol=1e-4)


def test_stereo_reweighting_follows_the_pan_of_the_target():
    """A target panned hard left, the rest hard right: with the true stems the re-weighted mask
    keeps the target's bins and drops the rest's even from a flat prior of 0.5; estimated from a
    barely informative prior (0.55 on the target's bins, 0.45 elsewhere) it moves the same way; a
    centred (mono) mix has no pan to go by and keeps the prior."""
    script = load_script("mask_diagnosis")
    rng = np.random.default_rng(2)
    frames = 40
    target_bins = rng.uniform(size=(513, frames)) < 0.5
    left = np.where(target_bins, 1.0, 0.05) * rng.uniform(0.5, 1.5, size=(513, frames))
    right = np.where(target_bins, 0.05, 1.0) * rng.uniform(0.5, 1.5, size=(513, frames))
    mix = np.stack([left, right]).astype(np.complex64)
    target = np.stack([np.where(target_bins, left, 0.0), np.where(target_bins, right, 0.0)]).astype(np.complex64)
    flat = np.full((2, 513, frames), 0.5)
    ideal, _ = script.stereo_reweighted(flat, mix, target)
    assert ideal[:, target_bins].min() > 0.9 and ideal[:, ~target_bins].max() < 0.1
    hint = np.where(target_bins, 0.55, 0.45)[None].repeat(2, axis=0)
    _, estimated = script.stereo_reweighted(hint, mix, target)
    assert np.median(estimated[:, target_bins]) > 0.8 and np.median(estimated[:, ~target_bins]) < 0.2
    centred = np.stack([left, left]).astype(np.complex64)
    _, unchanged = script.stereo_reweighted(hint, centred, target)
    np.testing.assert_allclose(unchanged, hint, atol=1e-6)


class _OracleSystem:
    """A stand-in for the exported model: its 'estimate' is the ideal ratio mask's."""

    def __init__(self, mixture, target):
        self.channels = {ch.tobytes(): t for ch, t in zip(mixture, target)}

    def embed(self, clips):
        return np.zeros((len(clips), 4), np.float32)

    def separate(self, channel, _vector):
        from fewshot_sep.eval.oracle import ideal_ratio_mask_estimate

        return ideal_ratio_mask_estimate(channel, self.channels[channel.tobytes()])


def _tone(f0, seconds, rng):
    t = np.arange(int(seconds * SR)) / SR
    return sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 9))


def test_a_mask_read_back_from_an_estimate_scores_what_the_estimate_scores():
    from fewshot_sep.eval.oracle import ideal_ratio_mask_estimate
    from fewshot_sep.utils.metrics import si_sdr

    script = load_script("mask_diagnosis")
    rng = np.random.default_rng(2)
    target = np.stack([_tone(220.0, 2.0, rng), 0.8 * _tone(220.0, 2.0, rng)]).astype(np.float32) * 0.1
    other = np.stack([_tone(330.0, 2.0, rng), _tone(415.0, 2.0, rng)]).astype(np.float32) * 0.1
    mixture = target + other + 0.003 * rng.standard_normal(target.shape).astype(np.float32)
    episode = SimpleNamespace(mixture=mixture, target=target, support=np.zeros((5, SR), np.float32))
    scores = script.diagnose_episode(_OracleSystem(mixture, target), episode, 16)
    direct = si_sdr(target, np.stack([ideal_ratio_mask_estimate(m, t) for m, t in zip(mixture, target)]))
    improvement = direct - si_sdr(target, mixture)
    assert improvement > 10.0
    # the read-back mask is not exactly the applied one (an STFT of a masked signal is not the
    # masked STFT), but a misaligned read-back would be many dB off
    assert scores["model"] == pytest.approx(improvement, abs=1.0)
    # harmonics 110 Hz apart at 43 Hz per bin: band means lose the fine structure
    assert scores["ideal, band-smoothed"] < scores["model"] - 3.0
    assert scores["model coarse, ideal fine"] == pytest.approx(scores["model"], abs=1.0)
