"""`fewshot-sep compare`: paired medians of several evaluations against a baseline, into a doc section."""

import csv

import pytest

pytest.importorskip("matplotlib")

from fewshot_sep.cli import main  # noqa: E402

FIELDS = ["episode", "seen", "system", "k", "negatives", "status", "si_sdri", "si_sdr", "si_sdr_mixture", "sdr",
          "seconds", "target_instrument", "n_interferers", "condition"]


def _episodes(path, shift: float, n: int = 30):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        writer.writeheader()
        for i in range(n):
            for seen in ("seen", "unseen"):
                base = {"episode": f"e{i}-{seen}", "seen": seen, "k": 5, "negatives": "without", "status": "ok",
                        "si_sdr": 0, "si_sdr_mixture": 0, "sdr": 0, "seconds": 1, "target_instrument": 1,
                        "n_interferers": 2, "condition": "robust"}
                writer.writerow({**base, "system": "fewshot-torch", "si_sdri": 1.0 + 0.1 * i + shift})
                writer.writerow({**base, "system": "mixture", "k": 0, "negatives": "-", "si_sdri": 0.0})
    return path


def test_paired_table_goes_into_its_section(tmp_path, capsys):
    base = _episodes(tmp_path / "base.csv", 0.0)
    better = _episodes(tmp_path / "better.csv", 1.5)
    doc = tmp_path / "doc.md"
    doc.write_text("# Doc\n\n<!-- la:start -->\nold\n<!-- la:end -->\n\nafter\n", encoding="utf-8")
    assert main(["compare", str(base), str(better), "--names", "live", "studio", "--condition", "robust",
                 "--write", str(doc), "--section", "la", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "| studio | seen | 30 | +2.45 | +3.95 | +1.50 [+1.50, +1.50] |" in out
    text = doc.read_text(encoding="utf-8")
    assert "old" not in text and "+1.50 [+1.50, +1.50]" in text and text.endswith("after\n")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_bad_arguments_are_usage_errors(tmp_path, capsys):
    base = _episodes(tmp_path / "base.csv", 0.0)
    assert main(["compare", str(base), str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["compare", str(base), str(base), "--names", "one"]) == 2
    assert "--names gives 1 names for 2" in capsys.readouterr().err
    assert main(["compare", str(base), str(base), "--condition", "nope"]) == 2
    assert "no fewshot-torch rows in condition nope" in capsys.readouterr().err
