"""Summary tables and plots from fabricated rows (known medians, every figure drawn)."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.eval.report import make_plots, markdown_summary, read_rows_csv, reference_condition, summarise, write_rows_csv

pytest.importorskip("matplotlib")


def _rows():
    rng = np.random.default_rng(0)
    rows = []
    for e in range(12):
        seen = "seen" if e < 6 else "unseen"
        base = {"episode": f"test/{e:04d}", "split": "test" if e < 6 else "test_unseen", "seen": seen,
                "target_instrument": 40 if e % 2 else 0, "target_name": "Violin" if e % 2 else "Acoustic Grand Piano",
                "family": "Strings" if e % 2 else "Piano", "soundfont": "x", "work_id": "w", "n_interferers": 2,
                "interferers": "a;b", "negative_instrument": "", "onehot_class": "", "status": "ok",
                "si_sdr_mixture": -3.0, "seconds": 0.1}

        def row(system, k, neg, value):
            return {**base, "system": system, "k": k, "negatives": neg, "si_sdri": value, "si_sdr": value - 3.0,
                    "sdr": value - 2.0}
        rows.append(row("mixture", 0, "-", 0.0))
        rows.append(row("oracle", 0, "-", 12.0 + rng.normal()))
        rows.append(row("onehot", 0, "-", 3.0 if seen == "seen" else 0.5))
        for k in (1, 5):
            for neg in ("without", "with"):
                rows.append(row("fewshot-onnx", k, neg, k + (1.0 if neg == "with" else 0.0) + 0.01 * e))
    rows.append({**rows[0], "episode": "test/0099", "status": "silent_target", "si_sdri": float("nan")})
    return rows


def test_summary_medians_and_skips():
    rows = _rows()
    groups = {(g["seen"], g["system"], g["k"], g["negatives"]): g for g in summarise(rows, ("seen", "system", "k", "negatives"))}
    assert groups[("seen", "mixture", 0, "-")]["si_sdri_median"] == 0.0
    assert groups[("seen", "fewshot-onnx", 5, "with")]["si_sdri_median"] == pytest.approx(6.025)
    assert groups[("unseen", "onehot", 0, "-")]["n"] == 6  # the silent row does not count
    assert reference_condition(rows) == (5, "without")
    text = markdown_summary(rows)
    assert "13 sampled, 1 skipped" in text
    assert "### Per family" in text and "| Strings | seen |" in text and "### Per instrument" in text


def test_plots_and_csv_roundtrip(tmp_path):
    rows = _rows()
    written = {p.name for p in make_plots(rows, tmp_path / "plots")}
    assert written == {"si_sdri_vs_k.png", "family_boxplots.png", "fewshot_vs_onehot.png"}
    write_rows_csv(tmp_path / "e.csv", rows)
    back = read_rows_csv(tmp_path / "e.csv")
    assert len(back) == len(rows)
    assert back[5]["si_sdri"] == pytest.approx(rows[5]["si_sdri"], abs=1e-4)
    assert np.isnan(back[-1]["si_sdri"]) and back[-1]["status"] == "silent_target"


def test_paired_comparisons_use_the_same_episodes():
    from fewshot_sep.eval.report import paired_difference

    rows = _rows()
    # negatives add exactly 1 dB on every episode; k = 5 adds 4 dB over k = 1
    neg = paired_difference(rows, ("fewshot-onnx", 5, "without"), ("fewshot-onnx", 5, "with"), "seen")
    assert neg["n"] == 6 and neg["diff_median"] == pytest.approx(1.0) and neg["diff_low"] == pytest.approx(1.0)
    shots = paired_difference(rows, ("fewshot-onnx", 1, "without"), ("fewshot-onnx", 5, "without"), "unseen")
    assert shots["diff_median"] == pytest.approx(4.0) and shots["a_median"] == pytest.approx(1.085)
    vs_onehot = paired_difference(rows, ("onehot", 0, "-"), ("fewshot-onnx", 5, "without"), "seen")
    assert vs_onehot["diff_median"] == pytest.approx(5.025 - 3.0)
    # episodes missing one side are left out of the pair
    partial = [r for r in rows if not (r["system"] == "fewshot-onnx" and r["negatives"] == "with"
                                       and r["episode"] in ("test/0000", "test/0001"))]
    assert paired_difference(partial, ("fewshot-onnx", 5, "without"), ("fewshot-onnx", 5, "with"), "seen")["n"] == 4
    assert paired_difference(rows, ("fewshot-onnx", 3, "without"), ("fewshot-onnx", 5, "with"), "seen") is None
    text = markdown_summary(rows)
    assert "### Paired comparisons" in text
    assert "| seen | k = 5: with 3 negatives vs without (episodes that have negatives) | 6 | +5.03 | +6.03 | +1.00 [+1.00, +1.00] |" in text
    assert "| unseen | few-shot (k = 5) vs one-hot baseline | 6 |" in text


def test_the_per_family_table_ends_with_pitched_only_medians():
    rows = _rows()
    # make two seen episodes drum kits that score far above the rest
    for r in rows:
        if r["episode"] in ("test/0000", "test/0002") and r["status"] == "ok":
            r.update(family="Drum Kit", target_name="Drum Kit: Standard", target_instrument=128)
            if r["system"] == "fewshot-onnx":
                r["si_sdri"] += 20.0
    text = markdown_summary(rows)
    family_table = text.split("### Per family")[1].split("###")[0]
    pitched = [line for line in family_table.splitlines() if line.startswith("| **pitched (all but Drum Kit)**")]
    assert [line.split(" | ")[1] for line in pitched] == ["seen", "unseen"]
    # seen pitched episodes 1, 3, 4, 5 at k = 5 without negatives: 5.01, 5.03, 5.04, 5.05 -> median 5.035
    # (with the kits the seen median would be 5.045 over n=6, its interval reaching 25)
    assert pitched[0].endswith("| +5.04 [+5.01, +5.05] (n=4) |")
    assert pitched[1].endswith("| +5.08 [+5.06, +5.11] (n=6) |")
