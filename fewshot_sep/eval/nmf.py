"""Classical reference: semi-supervised NMF with a dictionary learned from the example clips.

No training: the target's dictionary ``W_t`` (`TARGET_ATOMS` spectral atoms) is
learned by KL-divergence NMF on the magnitude spectrograms of the k support
clips; with negatives, a fixed dictionary of `NEGATIVE_ATOMS` atoms is learned
from them the same way. On the mixture, `FREE_ATOMS` more atoms are learned
freely for everything else while the example dictionaries stay fixed; the
estimate is the Wiener-style soft mask ``W_t H_t / (W H)`` on the mixture STFT
(the project's STFT, mixture phase, latency-compensated like the oracle).
Multiplicative updates (Lee & Seung), a fixed seed: deterministic.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fewshot_sep.eval.oracle import apply_mask_offline
from fewshot_sep.realtime.stft import N_FFT, stft

TARGET_ATOMS = 24
NEGATIVE_ATOMS = 16
FREE_ATOMS = 32
ITERATIONS = 60
_EPS = 1e-9


def _kl_nmf(v: np.ndarray, w: np.ndarray, h: np.ndarray, fixed_columns: int, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """KL-NMF ``V ~ W H`` updating H and the columns of W from `fixed_columns` on."""
    ones = np.ones_like(v)
    for _ in range(iterations):
        ratio = v / (w @ h + _EPS)
        h *= (w.T @ ratio) / (w.T @ ones + _EPS)
        if fixed_columns < w.shape[1]:
            ratio = v / (w @ h + _EPS)
            free = w[:, fixed_columns:]
            free *= (ratio @ h[fixed_columns:].T) / (ones @ h[fixed_columns:].T + _EPS)
            norms = free.sum(axis=0, keepdims=True) + _EPS
            free /= norms  # atoms of unit sum; the scale moves to H
            h[fixed_columns:] *= norms.T
    return w, h


def learn_dictionary(clips: Sequence[np.ndarray], atoms: int, seed: int = 0) -> np.ndarray:
    """Spectral dictionary ``[n_fft/2 + 1, atoms]`` (unit-sum columns) of mono `clips` ``[n_i]``."""
    v = np.concatenate([np.abs(stft(np.asarray(c, np.float32))) for c in clips], axis=1).astype(np.float64)
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.1, 1.0, (v.shape[0], atoms))
    w /= w.sum(axis=0, keepdims=True)
    h = rng.uniform(0.1, 1.0, (atoms, v.shape[1])) * (v.mean() + _EPS)
    w, _ = _kl_nmf(v, w, h, 0, ITERATIONS)
    return w


def example_dictionaries(support: Sequence[np.ndarray], negatives: Sequence[np.ndarray] = (),
                         seed: int = 0) -> list[np.ndarray]:
    """The fixed dictionaries of `nmf_estimate`: the target's ``[bins, TARGET_ATOMS]`` from the
    support clips, then (with negatives) ``[bins, NEGATIVE_ATOMS]`` from the negative clips.
    Learn them once per example set and pass them to every channel's `nmf_estimate`."""
    return [learn_dictionary(support, TARGET_ATOMS, seed)] + (
        [learn_dictionary(negatives, NEGATIVE_ATOMS, seed + 1)] if len(negatives) else [])


def nmf_estimate(mixture: np.ndarray, support: Sequence[np.ndarray], negatives: Sequence[np.ndarray] = (),
                 seed: int = 0, dictionaries: list[np.ndarray] | None = None) -> np.ndarray:
    """Estimate ``[n]`` of the examples' instrument in `mixture` ``[n]`` (mono clips as `support`);
    `dictionaries`: `example_dictionaries` of the same clips and seed, when already learned."""
    mixture = np.asarray(mixture, np.float32)
    pad = N_FFT - 1
    mix_p = np.pad(mixture, (0, pad))
    v = np.abs(stft(mix_p)).astype(np.float64)
    fixed = dictionaries if dictionaries is not None else example_dictionaries(support, negatives, seed)
    rng = np.random.default_rng(seed + 2)
    free = rng.uniform(0.1, 1.0, (v.shape[0], FREE_ATOMS))
    free /= free.sum(axis=0, keepdims=True)
    w = np.concatenate(fixed + [free], axis=1)
    h = rng.uniform(0.1, 1.0, (w.shape[1], v.shape[1])) * (v.mean() + _EPS)
    n_fixed = sum(f.shape[1] for f in fixed)
    w, h = _kl_nmf(v, w, h, n_fixed, ITERATIONS)
    target = w[:, :TARGET_ATOMS] @ h[:TARGET_ATOMS]
    mask = target / (w @ h + _EPS)
    return apply_mask_offline(mix_p, mask.astype(np.float32))[: mixture.size]


__all__ = ["nmf_estimate", "example_dictionaries", "learn_dictionary", "TARGET_ATOMS", "FREE_ATOMS", "NEGATIVE_ATOMS"]
