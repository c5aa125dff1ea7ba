"""scripts/negative_ceiling.py: the same mask on the mixture without the negative stem."""

import numpy as np
import pytest

from eval_fixtures import make_synthetic_dataset
from script_helpers import load_script, tiny_torch_run

torch = pytest.importorskip("torch")


def test_an_all_pass_mask_gains_exactly_what_removing_the_negative_stem_gains(tmp_path, capsys, monkeypatch):
    from fewshot_sep.eval.harness import EvalSettings, _Worker
    from fewshot_sep.eval.metrics import si_sdr

    script = load_script("negative_ceiling")
    data = make_synthetic_dataset(tmp_path / "data", n_works=4, seconds=4.0)
    run = tiny_torch_run(tmp_path / "run")
    settings = EvalSettings(data=str(data), splits=["test"], episodes=4, ks=[3], systems=["fewshot-torch"],
                            checkpoint=str(run), seconds=1.5, support_seconds=1.0)
    worker = _Worker(settings, None)
    separator = worker.systems["fewshot-torch"].model.separator
    with monkeypatch.context() as patch:
        patch.setattr(separator, "forward", lambda mag, cond: (torch.ones_like(mag),))
        rows = {i: script.episode_ceiling(worker, "test", i, k=3) for i in range(4)}
    checked = 0
    for index, row in rows.items():
        if row is None:
            continue
        ep = worker.samplers["test"].episode(index)
        negative = ep.interferers[ep.interferer_instruments.index(ep.negative_instrument)]
        expected = si_sdr(ep.target, ep.mixture - negative) - si_sdr(ep.target, ep.mixture)
        assert row["with"] == pytest.approx(0.0, abs=1e-3)  # the mask passes the mixture through
        assert row["without"] == pytest.approx(0.0, abs=1e-3)
        assert row["ceiling"] == pytest.approx(expected, abs=1e-2)
        checked += 1
    assert checked >= 1

    assert script.main([str(run), "--data", str(data), "--split", "test", "--episodes", "3", "--k", "3",
                        "--support-seconds", "1"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| test |")]
    assert len(table) == 1 and int(table[0].split("|")[2]) >= 1
