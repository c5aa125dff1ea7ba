"""The negative-leakage loss term: the batch carries the negative instrument's stem, the
term measures how much of it the mask lets through, and training with it runs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


def test_leakage_is_relative_to_the_target_and_floored():
    from fewshot_sep.train.losses import negative_leakage_db

    target = torch.ones(2, 5, 7, dtype=torch.complex64)
    negative = 0.1 * torch.ones(2, 5, 7, dtype=torch.complex64)
    mask = torch.ones(2, 5, 7, requires_grad=True)
    leak = negative_leakage_db(mask, negative, target, floor_db=-60.0)
    assert torch.allclose(leak, torch.full((2,), -20.0), atol=1e-4)  # (0.1)^2 of the target's energy
    leak.sum().backward()
    assert mask.grad is not None and float(mask.grad.abs().sum()) > 0
    # below the floor: clamped, no gradient left
    quiet = torch.full((2, 5, 7), 1e-3, requires_grad=True)
    floored = negative_leakage_db(quiet, negative, target, floor_db=-30.0)
    assert torch.allclose(floored, torch.full((2,), -30.0))
    floored.sum().backward()
    assert float(quiet.grad.abs().sum()) == 0.0


def test_batch_holds_the_negative_instruments_stem_of_each_episode():
    from fewshot_sep.train.batches import make_batch
    from fewshot_sep.train.synthetic import SyntheticSampler

    source = SyntheticSampler(n_instruments=6, clip_seconds=0.5, support_seconds=0.5, k_range=(1, 2),
                              n_interferers=(2, 3), negative_prob=0.5, negatives_range=(1, 2), seed=3)
    batch = make_batch(source, step=0, batch_size=8, seed=0)
    assert batch["negative_source"].shape == batch["mixture"].shape
    assert 0 < batch["has_negatives"].sum() < 8  # both kinds of episode in this batch
    for b in range(8):
        ep = source.episode(b)
        if batch["has_negatives"][b]:
            row = ep.interferer_instruments.index(ep.negative_instrument)
            scale = batch["target"][b] @ ep.target / (ep.target @ ep.target)  # the peak limiter's scale
            np.testing.assert_allclose(batch["negative_source"][b], ep.interferers[row] * scale, atol=1e-6)
        else:
            assert not batch["negative_source"][b].any()


def test_the_term_changes_the_loss_only_when_weighted_and_training_with_it_runs_and_logs_it(tmp_path):
    from fewshot_sep.train.batches import make_batch
    from fewshot_sep.train.loop import batch_loss, build_model, build_sources, read_log, to_tensors, train

    config = smoke_config(total_steps=3, negative_leak_weight=0.5, log_every=1)
    config["data"]["negative_prob"] = 1.0
    torch.manual_seed(0)
    model = build_model(config)
    train_src, _ = build_sources(config, progress=False)
    batch = to_tensors(make_batch(train_src, 0, 4, 0), torch.device("cpu"))
    with torch.no_grad():
        plain, _ = batch_loss(model, batch, {**config["train"], "negative_leak_weight": 0.0})
        parts = {}
        weighted, _ = batch_loss(model, batch, config["train"], parts=parts)
    assert float(weighted) != pytest.approx(float(plain))
    # the unweighted term is reported: the weighted loss minus the plain one, over the weight
    assert float(parts["leak_episodes"]) == 4
    assert float(weighted) - float(plain) == pytest.approx(0.5 * float(parts["leak_db"]) / 4, abs=1e-4)
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["step"] == 3 and np.isfinite(summary["last_loss"])
    leaks = [row["train_leak_db"] for row in read_log(tmp_path / "run" / "log.csv") if row["train_loss"]]
    assert len(leaks) == 3 and all(np.isfinite(float(v)) for v in leaks)


def test_negative_leak_weight_must_not_be_negative():
    from fewshot_sep.train.config import resolve_config
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match="negative_leak_weight -1"):
        resolve_config({"train": {"negative_leak_weight": -1}})


def test_trainable_prefixes_freeze_the_rest_and_its_batch_norm_statistics(tmp_path):
    from fewshot_sep.train.checkpoint import read_checkpoint
    from fewshot_sep.train.loop import train

    train(smoke_config(total_steps=2), tmp_path / "start", progress=False)
    start = read_checkpoint(tmp_path / "start" / "checkpoint.pt")["model"]
    config = smoke_config(total_steps=3, lr=1e-2, init_from=str(tmp_path / "start"),
                          trainable=["separator.context", "separator.film_pre_gru"])
    train(config, tmp_path / "run", progress=False)
    after = read_checkpoint(tmp_path / "run" / "checkpoint.pt")["model"]
    # num_batches_tracked still counts steps; it only matters for momentum None (cumulative averages)
    changed = {k for k in start if not torch.equal(start[k], after[k]) and not k.endswith("num_batches_tracked")}
    assert changed and all(k.startswith(("separator.context", "separator.film_pre_gru")) for k in changed), changed
    assert any(k.startswith("separator.context") for k in changed)


def test_a_trainable_prefix_that_names_nothing_is_refused(tmp_path):
    from fewshot_sep.train.loop import train
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match="train.trainable 'separator.nothing' names no parameter"):
        train(smoke_config(total_steps=1, trainable=["separator.nothing"]), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="train.trainable"):
        from fewshot_sep.train.config import resolve_config

        resolve_config({"train": {"trainable": "separator.context"}})


def test_the_log_holds_each_windows_mean_leakage_and_nothing_without_the_term(tmp_path, monkeypatch):
    from fewshot_sep.train import loop

    real = loop.batch_loss
    calls: list[int] = []

    def known_parts(model, batch, train_cfg, class_index=None, prototype_weight=0.0, parts=None):
        loss, sdr = real(model, batch, train_cfg, class_index, prototype_weight, parts)
        if parts is not None:  # training steps: step n reports a sum of -10 (n + 1) dB over 2 episodes
            calls.append(len(calls))
            parts["leak_db"] = torch.tensor(-10.0 * len(calls))
            parts["leak_episodes"] = torch.tensor(2.0)
        return loss, sdr

    config = smoke_config(total_steps=4, negative_leak_weight=0.5, log_every=2)
    with monkeypatch.context() as patch:
        patch.setattr(loop, "batch_loss", known_parts)
        loop.train(config, tmp_path / "with", progress=False)
    rows = [row for row in loop.read_log(tmp_path / "with" / "log.csv") if row["train_loss"]]
    # window 1: (-10 - 20) / 4 episodes; window 2: (-30 - 40) / 4 (the sums restart each window)
    assert [float(row["train_leak_db"]) for row in rows] == [-7.5, -17.5]

    loop.train(smoke_config(total_steps=2, log_every=1), tmp_path / "without", progress=False)
    rows = [row for row in loop.read_log(tmp_path / "without" / "log.csv") if row["train_loss"]]
    assert len(rows) == 2 and all(row["train_leak_db"] == "" for row in rows)

