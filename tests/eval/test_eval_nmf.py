"""The classical reference: semi-supervised NMF with a dictionary from the example clips."""

from __future__ import annotations

import numpy as np

from fewshot_sep.utils.metrics import si_sdr
from fewshot_sep.eval.nmf import TARGET_ATOMS, learn_dictionary, nmf_estimate

SR = 44100


def _tone(f0: float, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    notes = f0 * rng.choice([1.0, 1.125, 1.25, 1.5], size=int(np.ceil(seconds * 4)))
    freq = np.repeat(notes, int(SR / 4))[: len(t)]
    return (0.2 * np.sin(2 * np.pi * np.cumsum(freq) / SR) + 0.1 * np.sin(4 * np.pi * np.cumsum(freq) / SR)).astype(np.float32)


def test_examples_dictionary_pulls_out_their_instrument():
    target, other = _tone(220.0, 2.0, 0), _tone(1500.0, 2.0, 1)
    mixture = target + other
    support = [_tone(220.0, 1.0, s) for s in (2, 3, 4)]
    estimate = nmf_estimate(mixture, support)
    assert estimate.shape == mixture.shape
    gain = si_sdr(target, estimate) - si_sdr(target, mixture)
    assert gain > 6.0, gain  # a wrong mask (or the other dictionary's part) would be far below
    wrong = nmf_estimate(mixture, [_tone(1500.0, 1.0, s) for s in (2, 3)])
    assert si_sdr(target, wrong) < si_sdr(target, mixture)
    np.testing.assert_array_equal(estimate, nmf_estimate(mixture, support))  # deterministic


def test_dictionary_has_unit_sum_atoms():
    w = learn_dictionary([_tone(440.0, 0.5, 0)], TARGET_ATOMS)
    assert w.shape == (513, TARGET_ATOMS)
    np.testing.assert_allclose(w.sum(axis=0), 1.0, rtol=1e-6)


def test_dictionaries_learned_once_give_the_same_estimate():
    from fewshot_sep.eval.nmf import example_dictionaries

    mixture = _tone(220.0, 1.0, 0) + _tone(1500.0, 1.0, 1)
    support, negatives = [_tone(220.0, 0.5, 2)], [_tone(1500.0, 0.5, 3)]
    fixed = example_dictionaries(support, negatives)
    np.testing.assert_array_equal(nmf_estimate(mixture, support, negatives),
                                  nmf_estimate(mixture, (), dictionaries=fixed))
