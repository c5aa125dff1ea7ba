"""Separation metrics: moved to :mod:`fewshot_sep.utils.metrics` (shared with the demo).

Kept as a re-export for one release; import from ``fewshot_sep.utils.metrics``.
"""

from fewshot_sep.utils.metrics import (  # noqa: F401
    CLAMP_DB,
    EPS,
    bootstrap_median_ci,
    energy_db,
    sdr,
    si_sdr,
    si_sdr_improvement,
)
