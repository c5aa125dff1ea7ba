"""Bootstrap confidence intervals of the median: coverage, determinism, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.utils.metrics import bootstrap_median_ci


def test_interval_contains_median_and_is_deterministic():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=300)
    m, lo, hi = bootstrap_median_ci(x, seed=1)
    assert m == pytest.approx(np.median(x))
    assert lo <= m <= hi
    assert bootstrap_median_ci(x, seed=1) == (m, lo, hi)
    # width of a 95 % CI of a normal median ~ 2 * 1.96 * 1.2533 * sigma / sqrt(n)
    expected = 2 * 1.96 * 1.2533 * 2.0 / np.sqrt(300)
    assert 0.6 * expected < hi - lo < 1.5 * expected


def test_interval_shrinks_with_more_data():
    rng = np.random.default_rng(1)
    _, lo_s, hi_s = bootstrap_median_ci(rng.normal(size=50))
    _, lo_l, hi_l = bootstrap_median_ci(rng.normal(size=2000))
    assert (hi_l - lo_l) < 0.5 * (hi_s - lo_s)


def test_coverage_close_to_nominal():
    # 200 samples of size 80 from N(0, 1): the true median 0 should be inside ~95 % of the intervals.
    rng = np.random.default_rng(2)
    hits = 0
    trials = 200
    for i in range(trials):
        _, lo, hi = bootstrap_median_ci(rng.normal(size=80), n_boot=500, seed=i)
        hits += lo <= 0.0 <= hi
    assert 0.88 <= hits / trials <= 0.99


def test_edge_cases():
    assert all(np.isnan(v) for v in bootstrap_median_ci(np.array([])))
    assert bootstrap_median_ci(np.array([2.5])) == (2.5, 2.5, 2.5)
    m, lo, hi = bootstrap_median_ci(np.array([1.0, np.nan, 3.0, np.inf]))
    assert m == 2.0 and 1.0 <= lo <= hi <= 3.0
