"""Moving average of the weights (train.ema_decay): the average itself, what an EMA run
validates and keeps, and resume."""

import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


def test_average_follows_the_lerp_rule_and_copies_integer_buffers():
    from fewshot_sep.train.ema import WeightAverage

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    ema = WeightAverage(model, decay=0.9)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        model(torch.randn(4, 3))  # moves BatchNorm's running statistics and its counter
        ema.update(model)
    # effective decays of the first three updates: min(0.9, (1 + n) / (10 + n)), n = 0, 1, 2
    decays = [1 / 10, 2 / 11, 3 / 12]
    expected = start["0.weight"].clone()
    for i, d in enumerate(decays):
        expected = d * expected + (1 - d) * (start["0.weight"] + i + 1)
    assert torch.allclose(ema.model.state_dict()["0.weight"], expected, atol=1e-6)
    assert not torch.equal(ema.model.state_dict()["0.weight"], model.state_dict()["0.weight"])
    assert int(ema.model.state_dict()["1.num_batches_tracked"]) == 3
    assert not any(p.requires_grad for p in ema.model.parameters())
    with pytest.raises(ValueError, match="decay 1.0 is invalid"):
        WeightAverage(model, 1.0)


def test_ema_run_keeps_the_average_and_resumes_exactly(tmp_path):
    from fewshot_sep.train.checkpoint import read_checkpoint
    from fewshot_sep.train.loop import read_log, train

    straight = train(smoke_config(total_steps=8, ema_decay=0.5), tmp_path / "straight", progress=False)
    assert straight["step"] == 8
    last = read_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    assert last["ema"]["updates"] == 8
    # the average differs from the raw weights, and each validation logs both scores
    assert any(not torch.equal(last["model"][k], last["ema"]["weights"][k]) for k in last["model"])
    rows = [r for r in read_log(tmp_path / "straight" / "log.csv") if r["val_sisdri_median"]]
    assert rows and all(r["val_raw_sisdri_median"] for r in rows)
    # best.pt holds the averaged weights of the best validation (the one at step 0 or the last)
    best = read_checkpoint(tmp_path / "straight" / "best.pt")
    assert "ema" not in best
    best_step_rows = [r for r in rows if int(r["step"]) == best["step"]]
    assert best_step_rows and float(best_step_rows[0]["val_sisdri_median"]) == pytest.approx(best["best_val"], abs=1e-3)
    if best["step"] == 8:
        for name, tensor in last["ema"]["weights"].items():
            assert torch.equal(tensor, best["model"][name]), name

    train(smoke_config(total_steps=8, ema_decay=0.5), tmp_path / "resumed", max_steps=5, progress=False)
    train(smoke_config(total_steps=8, ema_decay=0.5), tmp_path / "resumed", resume=True, progress=False)
    resumed = read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert resumed["ema"]["updates"] == 8
    for name, tensor in last["ema"]["weights"].items():
        assert torch.equal(tensor, resumed["ema"]["weights"][name]), name


def test_ema_decay_out_of_range_is_refused():
    from fewshot_sep.train.config import resolve_config
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match=r"train.ema_decay 1.5 is invalid.*\(0, 1\)"):
        resolve_config({"train": {"ema_decay": 1.5}})
    assert resolve_config({"train": {"ema_decay": 0.99}})["train"]["ema_decay"] == 0.99
