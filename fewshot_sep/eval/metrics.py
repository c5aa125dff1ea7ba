"""Evaluation metrics: the shared ones from :mod:`fewshot_sep.utils.metrics` (the SI-SDR
convention, bootstrap intervals; the demo uses them too) and BSS-eval SDR, which needs
fast_bss_eval (the ``train`` extra) and so stays with the evaluation.

- :func:`sdr`: BSS-eval SDR with a 512-tap distortion filter, computed by
  ``fast_bss_eval.sdr`` over the whole excerpt (BSS-eval v4 / museval uses
  the same filter length but 1 s windows).
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.utils.metrics import (  # noqa: F401 - re-exported: the evaluation's metric names
    CLAMP_DB,
    EPS,
    bootstrap_median_ci,
    energy_db,
    si_sdr,
    si_sdr_improvement,
)


def sdr(reference: np.ndarray, estimate: np.ndarray, filter_length: int = 512) -> float:
    """BSS-eval SDR (dB) of one estimate against one reference, via ``fast_bss_eval.sdr``.

    Args:
        reference, estimate: ``[n_samples]`` aligned mono signals.
        filter_length: taps of the allowed distortion filter (512 as in BSS-eval v4).

    Clamped to [-100, 100] dB so a degenerate excerpt cannot put inf in a table.
    """
    import fast_bss_eval

    ref = np.asarray(reference, dtype=np.float64).reshape(1, -1)
    est = np.asarray(estimate, dtype=np.float64).reshape(1, -1)
    value = fast_bss_eval.sdr(ref, est, filter_length=filter_length, clamp_db=CLAMP_DB)
    return float(np.asarray(value).ravel()[0])
