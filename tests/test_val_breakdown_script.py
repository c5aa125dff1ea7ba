"""scripts/val_breakdown.py: the binning and grouping behind its tables."""

import math

from script_helpers import load_script


def _load_script():
    return load_script("val_breakdown")


def test_median_by_bins_uses_open_outer_bins_and_half_open_inner_bins():
    script = _load_script()
    rows = script.median_by_bins([1.0, 2.0, 3.0, 10.0, 20.0], [-20.0, -10.0, -5.0, 0.0, 7.0], [-10.0, 0.0])
    assert [label for label, _, _ in rows] == ["< -10", "[-10, +0)", ">= +0"]
    assert [count for _, count, _ in rows] == [1, 2, 2]
    assert [median for _, _, median in rows] == [1.0, 2.5, 15.0]


def test_median_by_bins_reports_an_empty_bin_as_nan():
    rows = _load_script().median_by_bins([1.0], [3.0], [0.0, 5.0])
    assert rows[0][1] == 0 and math.isnan(rows[0][2]) and rows[1] == ("[+0, +5)", 1, 1.0)


def test_median_by_label_sorts_worst_first():
    rows = _load_script().median_by_label([5.0, 1.0, 3.0, -2.0], ["bass", "flute", "bass", "lead"])
    assert rows == [("lead", 1, -2.0), ("flute", 1, 1.0), ("bass", 2, 4.0)]
