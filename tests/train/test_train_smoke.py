"""Smoke training (configs/smoke.yaml, synthetic episodes) lowers the loss on held-out batches."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


def _held_out_loss(model, source, config):
    """Mean training loss (the config's weights) over 4 fixed batches the run never trains on."""
    from fewshot_sep.model import stft as S
    from fewshot_sep.train.batches import make_batch
    from fewshot_sep.train.loop import LATENCY, batch_conditioning, separate_batch, to_tensors
    from fewshot_sep.train.losses import separation_loss

    model.eval()
    losses = []
    with torch.no_grad():
        for step in range(10_000, 10_004):  # steps the run never reaches: unseen episodes
            batch = to_tensors(make_batch(source, step, 8, seed=0), torch.device("cpu"))
            est, est_spec = separate_batch(model, batch, batch_conditioning(model, batch))
            loss, _ = separation_loss(est[:, LATENCY:], batch["target"][:, :-LATENCY], est_spec,
                                      S.stft(batch["target"]), config["train"]["sisdr_weight"],
                                      config["train"]["magnitude_weight"])
            losses.append(float(loss))
    return float(np.mean(losses))


@pytest.mark.slow
def test_smoke_training_lowers_the_loss(tmp_path):
    from fewshot_sep.model import build_model
    from fewshot_sep.train.checkpoint import load_checkpoint
    from fewshot_sep.train.loop import build_sources, read_log, train

    # An easier variant of the smoke task (4 timbres, one interferer) so 60 steps show clear progress.
    config = smoke_config(total_steps=60, lr=0.005, magnitude_weight=0.0)
    config["data"]["synthetic_instruments"] = 4
    config["data"]["n_interferers"] = [1, 1]
    torch.manual_seed(0)
    source, _ = build_sources(config, progress=False)
    before = _held_out_loss(build_model(config), source, config)
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["step"] == 60 and not summary["interrupted"]
    model, _ = load_checkpoint(tmp_path / "run", which="latest")
    after = _held_out_loss(model, source, config)
    assert after < before - 0.15, (before, after)  # loss is -SI-SDR in dB here
    rows = read_log(tmp_path / "run" / "log.csv")
    assert any(r["train_loss"] for r in rows) and any(r["val_sisdri_median"] for r in rows)
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "config.json").is_file()
