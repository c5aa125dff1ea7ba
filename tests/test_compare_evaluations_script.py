"""scripts/compare_evaluations.py: two evaluations of the same episodes, paired per episode."""

from fewshot_sep.eval.report import write_rows_csv
from script_helpers import load_script


def _rows(gain: float, episodes: range, system: str = "fewshot-torch") -> list[dict]:
    return [{"episode": f"test/{i:04d}", "split": "test", "seen": "seen", "target_instrument": 0,
             "n_interferers": 2, "system": system, "k": 5, "negatives": "without", "status": "ok",
             "si_sdr": 1.0, "si_sdr_mixture": 0.0, "si_sdri": float(i % 7) + gain, "sdr": 0.0, "seconds": 0.1}
            for i in episodes]


def test_paired_difference_over_the_episodes_both_runs_have(tmp_path, capsys):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_rows_csv(first, _rows(0.0, range(40)) + _rows(9.0, range(40), system="oracle"))
    write_rows_csv(second, _rows(1.5, range(10, 60)))
    assert load_script("compare_evaluations").main([str(first), str(second), "--names", "old", "new"]) == 0
    out = capsys.readouterr().out
    assert "| instruments | k | negatives | n | old | new |" in out
    row = [line for line in out.splitlines() if line.startswith("| seen |")]
    assert len(row) == 1  # only the fewshot-torch rows, one condition
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    assert cells[3] == "30"                    # episodes 10..39 are in both
    assert cells[6].startswith("+1.50 [+1.50, +1.50]")  # every paired difference is +1.5 dB
