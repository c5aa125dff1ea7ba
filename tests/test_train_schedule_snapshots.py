"""Training options for a run on a borrowed machine: a schedule fitted to a time budget,
snapshots of the kept weights, no validation split, and the shared-memory batch stream."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


@pytest.mark.slow
def test_schedule_minutes_fits_total_steps_to_the_budget(tmp_path):
    from fewshot_sep.train.loop import read_log, train

    config = smoke_config(total_steps=100000, warmup_steps=5, schedule_minutes=0.4, max_minutes=1.0,
                          log_every=10)
    summary = train(config, tmp_path / "run", progress=False)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    fitted = int(saved["train"]["total_steps"])
    assert 60 < fitted < 100000            # set from the measured rate, after step 60
    assert summary["step"] == fitted and not summary["interrupted"]  # the run ends with its schedule
    rows = [r for r in read_log(tmp_path / "run" / "log.csv") if r["lr"]]
    assert float(rows[-1]["lr"]) < 0.2 * float(config["train"]["lr"])  # cosine annealed by the end
    assert all(0.0 <= float(r["data_wait_share"]) <= 1.0 for r in rows)


def test_snapshots_keep_the_newest_ema_weights_and_load(tmp_path):
    from fewshot_sep.train.checkpoint import load_checkpoint, read_checkpoint
    from fewshot_sep.train.loop import train

    config = smoke_config(total_steps=30, snapshot_minutes=1e-4, max_snapshots=3, ema_decay=0.9)
    train(config, tmp_path / "run", progress=False)
    snaps = sorted((tmp_path / "run").glob("snapshot-*.pt"))
    assert len(snaps) == 3 and snaps[-1].name == "snapshot-0000030.pt"
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
