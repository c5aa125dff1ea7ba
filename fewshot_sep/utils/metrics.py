"""Separation metrics and robust summaries, one module for the demo and the evaluation (numpy).

The SI-SDR convention (every SI-SDR figure of the project that is not a training
loss: ``fewshot-sep demo``, ``fewshot-sep evaluate``, docs/results.md):

- scale-invariant SDR as in Le Roux et al., "SDR - half-baked or well done?" (2019):
  ``alpha = <s, s_hat> / <s, s>``, ``SI-SDR = 10 log10(|alpha s|^2 / |s_hat - alpha s|^2)``;
- **no mean removal** (the signals are scored as they are; the same convention as
  ``fast_bss_eval.si_sdr(..., zero_mean=False)``, which a test compares it with);
- the estimate is time-aligned with the reference (latency compensated) and as long;
- a multichannel signal is scored as one signal, its channels concatenated
  (``[channels, n]`` is flattened channel after channel);
- the result is clamped to [-100, +100] dB; SI-SDRi is ``SI-SDR(estimate) - SI-SDR(mixture)``.

The training loss (``fewshot_sep.train.losses.si_sdr``, torch, differentiable) removes
the mean of both signals first; its validation figures (``best_val`` in checkpoints)
follow that convention, which differs from this one only by the signals' DC offsets.

- :func:`si_sdr`, :func:`si_sdr_improvement`: the convention above, own numpy code.
- BSS-eval SDR, which needs fast_bss_eval (the ``train`` extra), is the evaluation's own:
  :func:`fewshot_sep.eval.metrics.sdr`.
- :func:`bootstrap_median_ci`: median with a percentile-bootstrap 95 % interval,
  from a fixed seed so that tables are reproducible.
- :func:`energy_db`: mean power in dB re full scale.

Signals are float arrays at one sample rate; results are in dB.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12
"""Guards log10(0); far below the energy of any audible signal."""
CLAMP_DB = 100.0
"""SI-SDR and SDR are clamped to [-CLAMP_DB, CLAMP_DB]."""


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SI-SDR of `estimate` against `reference` in dB.

    ``alpha = <s, s_hat> / <s, s>``, ``SI-SDR = 10 log10(|alpha s|^2 / |s_hat - alpha s|^2)``.

    Args:
        reference: ``[n_samples]`` (or ``[channels, n_samples]``, flattened) target signal ``s``
            (not near-silent: callers skip those).
        estimate: estimate ``s_hat`` of the same shape, time-aligned with `reference`.

    Returns:
        SI-SDR in dB (float64), clamped to [-100, +100] dB so that a perfect or
        an all-zero estimate cannot put an infinity into a median.
    """
    s = np.asarray(reference, dtype=np.float64).ravel()
    s_hat = np.asarray(estimate, dtype=np.float64).ravel()
    if s.shape != s_hat.shape:
        raise ValueError(f"reference {s.shape} and estimate {s_hat.shape} must have the same length")
    ref_energy = float(np.dot(s, s))
    if ref_energy <= 0.0:
        raise ValueError("SI-SDR is undefined for an all-zero reference")
    if not np.any(s_hat):
        return -CLAMP_DB  # nothing estimated: as bad as it gets (0/0 otherwise)
    alpha = float(np.dot(s, s_hat)) / ref_energy
    target = alpha * s
    noise = s_hat - target
    target_energy = float(np.dot(target, target))
    noise_energy = float(np.dot(noise, noise))
    if noise_energy <= 0.0:
        return CLAMP_DB
    if target_energy <= 0.0:
        return -CLAMP_DB
    return float(np.clip(10.0 * np.log10(target_energy / noise_energy), -CLAMP_DB, CLAMP_DB))


def si_sdr_improvement(reference: np.ndarray, estimate: np.ndarray, mixture: np.ndarray) -> float:
    """SI-SDRi: ``si_sdr(reference, estimate) - si_sdr(reference, mixture)`` in dB."""
    return si_sdr(reference, estimate) - si_sdr(reference, mixture)


def bootstrap_median_ci(
    values: np.ndarray, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Median of `values` with a percentile-bootstrap confidence interval.

    Args:
        values: ``[n]`` numbers (NaN entries are dropped).
        n_boot: bootstrap resamples.
        confidence: interval mass, e.g. 0.95.
        seed: seed of the resampling generator (fixed: same data, same interval).

    Returns:
        ``(median, low, high)``; all NaN for an empty input, ``(m, m, m)`` for one value.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (float("nan"),) * 3
    median = float(np.median(x))
    if x.size == 1:
        return median, median, median
    rng = np.random.default_rng(seed)
    medians = np.empty(n_boot, dtype=np.float64)
    # Chunked so 2000 x n indices never need more than ~16 MB.
    chunk = max(1, min(n_boot, 2_000_000 // x.size))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        medians[start:stop] = np.median(x[idx], axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(medians, [tail, 100.0 - tail])
    return median, float(low), float(high)


def energy_db(signal: np.ndarray) -> float:
    """Mean power of ``[n]`` `signal` in dB relative to full scale (RMS 1.0 = 0 dB)."""
    x = np.asarray(signal, dtype=np.float64)
    return 10.0 * np.log10(float(np.mean(x * x)) + EPS) if x.size else -120.0
