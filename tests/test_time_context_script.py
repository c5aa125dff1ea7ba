"""scripts/time_context.py: per-second scores of a continuous, a fresh-start and a primed pass."""

import numpy as np
import pytest

from eval_fixtures import make_synthetic_dataset
from script_helpers import load_script, tiny_torch_run

torch = pytest.importorskip("torch")


@pytest.fixture()
def worker(tmp_path):
    from fewshot_sep.eval.harness import EvalSettings, _Worker

    data = make_synthetic_dataset(tmp_path / "data", n_works=4, seconds=4.0)
    run = tiny_torch_run(tmp_path / "run")
    settings = EvalSettings(data=str(data), splits=["test"], episodes=3, ks=[3], systems=["fewshot-torch"],
                            checkpoint=str(run), seconds=2.5, support_seconds=1.0)
    return _Worker(settings, None), data, run


def test_an_all_pass_mask_scores_zero_in_every_second_and_way(worker, monkeypatch):
    worker, _, _ = worker
    script = load_script("time_context")
    separator = worker.systems["fewshot-torch"].model.separator
    with monkeypatch.context() as patch:
        patch.setattr(separator, "forward", lambda mag, cond, *states: (torch.ones_like(mag), torch.zeros(1)))
        rows = [script.episode_seconds(worker, "test", i, k=3) for i in range(3)]
    scored = [r for r in rows if r]
    assert scored
    finite = 0
    for row in scored:
        assert len(row["continuous"]) == 2  # whole seconds of a 2.5 s mixture
        silent = np.isnan(row["continuous"])
        for way in ("continuous", "fresh", "primed"):
            values = np.array(row[way])
            np.testing.assert_array_equal(np.isnan(values), silent)  # the same seconds scored in every way
            assert np.all(np.abs(values[~silent]) < 1e-3), (way, values)
        finite += int((~silent).sum())
    assert finite >= 2


def test_a_fresh_pass_equals_the_continuous_one_only_in_the_first_second_and_priming_changes_it(worker, capsys):
    worker, data, run = worker
    script = load_script("time_context")
    rows = [r for r in (script.episode_seconds(worker, "test", i, k=3) for i in range(3)) if r]
    assert rows
    first = [r for r in rows if not np.isnan(r["continuous"][0])]
    assert first
    for row in first:
        assert row["fresh"][0] == pytest.approx(row["continuous"][0], abs=1e-9)  # same pass from a zero state
    # from the second second on, the continuous pass carries a state that a fresh pass does not
    later = [r for r in rows if not np.isnan(r["continuous"][1])]
    assert later and any(abs(r["fresh"][1] - r["continuous"][1]) > 1e-6 for r in later)
    # the primed pass starts from a state that is not zero, so its first second differs
    assert any(abs(r["primed"][0] - r["continuous"][0]) > 1e-6 for r in first)

    assert script.main([str(run), "--data", str(data), "--split", "test", "--episodes", "3", "--k", "3",
                        "--support-seconds", "1", "--seconds", "2.5"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split("|")[1].strip() for line in table] == ["1", "2"]
