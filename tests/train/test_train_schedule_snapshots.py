"""Training options for a run on a borrowed machine: a schedule fitted to a time budget,
snapshots of the kept weights, no validation split, and the shared-memory batch stream."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


def test_schedule_fit_measures_after_the_prefetched_batches_and_fills_the_budget(monkeypatch):
    from fewshot_sep.train import loop

    clock = {"now": 100.0}
    monkeypatch.setattr(loop.time, "monotonic", lambda: clock["now"])
    train_cfg = {"warmup_steps": 20, "schedule_minutes": 10.0, "total_steps": 10 ** 6}
    fit = loop._ScheduleFit(train_cfg, step=0, prefetched=12)
    assert (fit.t0_step, fit.fit_step) == (22, 72)  # 10 start-up steps after the 12 made ahead; >= 50 steps
    for step in range(1, 72):
        clock["now"] += 0.01 if step <= 22 else 0.5   # prefetched batches come fast, then 2 steps/s
        assert not fit.ready(step)
    clock["now"] += 0.5
    assert fit.ready(72)
    total = fit.fit(72, elapsed_s=60.0)               # 1 of the 10 minutes spent
    assert fit.rate == pytest.approx(2.0)
    assert total == 72 + int(2.0 * 540.0)
    assert train_cfg["total_steps"] == total and train_cfg["schedule_fitted_at"] == 72


@pytest.mark.slow
def test_schedule_minutes_fits_total_steps_in_a_run_and_resume_keeps_it(tmp_path):
    from fewshot_sep.train.loop import read_log, train

    config = smoke_config(total_steps=100000, warmup_steps=5, schedule_minutes=0.4, max_minutes=1.0,
                          log_every=10)
    summary = train(config, tmp_path / "run", progress=False)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    fitted = int(saved["train"]["total_steps"])
    assert saved["train"]["schedule_fitted_at"] == 60 and 60 < fitted < 100000
    assert summary["step"] <= fitted
    rows = [r for r in read_log(tmp_path / "run" / "log.csv") if r["lr"]]
    assert all(0.0 <= float(r["data_wait_share"]) <= 1.0 for r in rows)
    # A resumed run keeps the fitted schedule instead of fitting again.
    train(config, tmp_path / "run", resume=True, max_steps=5, progress=False)
    again = json.loads((tmp_path / "run" / "config.json").read_text())
    assert again["train"]["total_steps"] == fitted and again["train"]["schedule_fitted_at"] == 60


def test_a_run_stopped_before_its_fit_fits_on_resume(tmp_path):
    from fewshot_sep.train.loop import train

    config = smoke_config(total_steps=100000, warmup_steps=5, schedule_minutes=5.0)
    train(config, tmp_path / "run", max_steps=3, progress=False)  # stops long before step 60
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["total_steps"] == 100000
    train(config, tmp_path / "run", resume=True, max_steps=60, progress=False)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert saved["schedule_fitted_at"] == 3 + 60 and saved["total_steps"] < 100000


def test_snapshots_keep_the_newest_ema_weights_and_load(tmp_path):
    from fewshot_sep.train.checkpoint import load_checkpoint, read_checkpoint
    from fewshot_sep.train.loop import train

    config = smoke_config(total_steps=30, snapshot_minutes=1e-4, max_snapshots=3, ema_decay=0.9)
    train(config, tmp_path / "run", progress=False)
    snaps = sorted((tmp_path / "run").glob("snapshot-*.pt"))
    assert len(snaps) == 3 and snaps[-1].name == "snapshot-0000030.pt"
    steps = [int(p.stem.split("-")[1]) for p in snaps]
    assert steps == sorted(steps) and steps[0] >= 28  # the newest three (one per step here) are kept
    payload = read_checkpoint(snaps[-1])
    assert payload["step"] == 30 and "optimizer" not in payload
    final = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    averaged, raw = final["ema"]["weights"], final["model"]
    assert all(torch.equal(value, averaged[name]) for name, value in payload["model"].items())
    assert not all(torch.equal(value, raw[name]) for name, value in payload["model"].items())
    model, _ = load_checkpoint(snaps[-1])
    assert not model.training


def test_no_validation_episodes_trains_without_a_val_split(tmp_path):
    from fewshot_sep.train.loop import read_log, train

    config = smoke_config(total_steps=10)
    config["val"]["episodes"] = 0
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["step"] == 10
    assert not (tmp_path / "run" / "best.pt").exists()
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert all(not r["val_sisdri_median"] or r["val_sisdri_median"] == "nan"
               for r in read_log(tmp_path / "run" / "log.csv"))


def test_tensor_batch_stream_gives_the_batches_of_make_batch_in_step_order():
    from fewshot_sep.train.batches import AugmentConfig, make_batch
    from fewshot_sep.train.loader import TensorBatchStream
    from fewshot_sep.train.loop import build_sources

    config = smoke_config()
    source, _ = build_sources(config, progress=False)

    def make(step):
        return make_batch(source, step, 3, seed=5, augment_cfg=AugmentConfig())

    stream = TensorBatchStream(make, start_step=7, workers=2, max_steps=12)
    try:
        for step in range(7, 12):
            got = next(stream)
            want = make(step)
            assert set(got) == set(want)
            for key in want:
                np.testing.assert_array_equal(got[key].numpy(), want[key])
        with pytest.raises(StopIteration):
            next(stream)
    finally:
        stream.close()


def test_bad_schedule_values_are_refused():
    from fewshot_sep.train.config import resolve_config
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match="schedule_minutes"):
        resolve_config({"train": {"schedule_minutes": 0}})
    with pytest.raises(UserError, match="val.episodes"):
        resolve_config({"val": {"episodes": -1}})
    with pytest.raises(UserError, match="max_snapshots"):
        resolve_config({"train": {"max_snapshots": 0}})
