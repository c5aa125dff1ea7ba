"""Oracle ideal ratio mask: alignment, bounds, and the one-hot nearest-class rule."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.utils.metrics import si_sdr
from fewshot_sep.eval.onehot_rule import onehot_class_for
from fewshot_sep.eval.oracle import ideal_ratio_mask, ideal_ratio_mask_estimate

SR = 44100


def _tone(freq, seconds=1.0, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_oracle_of_a_solo_target_reconstructs_it_sample_aligned():
    target = _tone(440) + 0.01 * np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    est = ideal_ratio_mask_estimate(target, target)
    assert est.shape == target.shape
    # perfect reconstruction except the first hop-1 samples of the streaming framing
    np.testing.assert_allclose(est[300:], target[300:], atol=1e-4)
    # a one-sample misalignment would already be far worse than this
    assert si_sdr(target[300:], est[300:]) > 60
    assert si_sdr(target[301:], est[300:-1]) < 30


def test_oracle_separates_disjoint_tones_and_mask_is_bounded():
    target, other = _tone(440), _tone(3000)
    mixture = target + other
    mask = ideal_ratio_mask(target, mixture)
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    est = ideal_ratio_mask_estimate(mixture, target)
    assert si_sdr(target, est) > si_sdr(target, mixture) + 20


@pytest.mark.parametrize("unseen,expected", [(3, 2), (6, 5), (43, 42), (110, 109), (128 + 25, 128 + 24), (128 + 40, 128 + 32)])
def test_unseen_instruments_map_to_nearest_seen_in_family(unseen, expected):
    from fewshot_sep.data.split import instrument_status

    assert instrument_status(unseen) == "unseen"
    assert onehot_class_for(unseen) == expected
    assert instrument_status(expected) == "seen"


def test_seen_instruments_map_to_themselves_and_excluded_raise():
    for inst in (0, 40, 73, 128):
        assert onehot_class_for(inst) == inst
    with pytest.raises(ValueError):
        onehot_class_for(121)


def test_rule_respects_the_trained_classes():
    # Contrabass 43 -> Cello 42 normally; if only Violin 40 and Viola 41 were trained, Viola 41.
    assert onehot_class_for(43, trained=[40, 41, 0]) == 41
    # a seen target missing from training is treated like an unseen one
    assert onehot_class_for(42, trained=[40, 0]) == 40
    # no trained class in the family: nearest trained label overall
    assert onehot_class_for(110, trained=[0, 40, 73]) == 73
    assert onehot_class_for(128 + 25, trained=[128, 128 + 32]) == 128 + 32  # preset 25: 32 is nearer than 0
