"""scripts/mask_postprocess.py: the mask combinations it scores."""

import numpy as np

from script_helpers import load_script


def _variants(mask, negative_mask):
    return load_script("mask_postprocess").negative_variants(mask, negative_mask)


def test_an_empty_negative_mask_leaves_the_mask_unchanged():
    mask = np.random.default_rng(0).uniform(size=(513, 20))
    for name, combined in _variants(mask, np.zeros_like(mask)).items():
        assert np.allclose(combined, mask), name


def test_combinations_stay_in_range_and_remove_where_the_negative_is_sure():
    rng = np.random.default_rng(1)
    mask, negative = rng.uniform(size=(513, 20)), rng.uniform(size=(513, 20))
    variants = _variants(mask, negative)
    for name, combined in variants.items():
        assert combined.min() >= 0.0 and combined.max() <= 1.0 + 1e-9, name
        assert np.all(combined <= mask + 1e-9), name  # a negative never adds to the target
    full = _variants(mask, np.ones_like(mask))
    assert np.allclose(full["m (1 - m_neg)"], 0.0) and np.allclose(full["m (1 - m_neg / 2)"], mask / 2)
    assert np.allclose(full["m / (m + m_neg) where > 1"], mask / (mask + 1.0))
