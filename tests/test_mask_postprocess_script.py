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


def test_cascade_variants():
    """A second pass that keeps everything (m2 = 1) leaves the mask; one that keeps nothing empties it."""
    cascade = load_script("mask_postprocess").cascade_variants
    rng = np.random.default_rng(2)
    mask, second = rng.uniform(size=(513, 20)), rng.uniform(size=(513, 20))
    for name, combined in cascade(mask, np.ones_like(mask)).items():
        assert np.allclose(combined, mask if name != "cascade: m2 alone" else 1.0), name
    for name, combined in cascade(mask, np.zeros_like(mask)).items():
        assert np.allclose(combined, 0.0), name
    variants = cascade(mask, second)
    assert np.allclose(variants["cascade: m m2"], mask * second)
    assert np.all(variants["cascade: m m2"] <= variants["cascade: m sqrt(m2)"] + 1e-12)
    assert np.all(variants["cascade: m sqrt(m2)"] <= mask + 1e-12)
