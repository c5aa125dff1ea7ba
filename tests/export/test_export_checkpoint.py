"""Exporting a training run folder: the checkpoint's weights are exported (not fresh ones)
and the card's training section comes from the checkpoint and log.csv."""

from __future__ import annotations

import json

import numpy as np
import torch

from export_helpers import TINY_CONFIG, magnitude, session, tiny_model
from fewshot_sep.cli import main
from fewshot_sep.export.source import load_source
from fewshot_sep.train.checkpoint import save_checkpoint, save_config


def test_run_folder_export(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    model = tiny_model(seed=21)
    save_config(run, TINY_CONFIG)
    save_checkpoint(run / "checkpoint.pt", {"model": model.state_dict(), "step": 40, "episodes": 160,
                                            "elapsed_s": 12.5, "best_val": 1.25, "format_version": 1})
    (run / "log.csv").write_text("step,train_loss,val_sisdri_median,val_sisdri_mean\n"
                                 "20,0.5,0.75,0.5\n40,0.4,1.25,1.0\n45,0.3,,\n50,0.2,1.5,1.5\n")
    out = tmp_path / "model"
    assert main(["export", str(run), "--out", str(out), "-q"]) == 0
    card = json.loads((out / "model_card.json").read_text())
    training = card["training"]
    assert training["status"] == "trained" and training["checkpoint"] == "checkpoint.pt"
    assert (training["step"], training["episodes"], training["best_val_sisdri_median_db"]) == (40, 160, 1.25)
    assert training["last_validation"] == {"step": 40, "val_sisdri_median": 1.25, "val_sisdri_mean": 1.0}
    assert training["run"] == TINY_CONFIG["name"]
    assert card["name"] == f"fewshot-sep-{TINY_CONFIG['name']}"

    # The exported encoder is the checkpoint's, not a freshly initialised one.
    mag = magnitude(np.random.default_rng(0), 2, 40)
    (got,) = session(out / "encoder.onnx").run(None, {"magnitude": mag})
    with torch.no_grad():
        ref = model.encoder(torch.from_numpy(mag)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)


def test_best_checkpoint_wins_unless_latest(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    save_config(run, TINY_CONFIG)
    latest, best = tiny_model(seed=1), tiny_model(seed=2)
    save_checkpoint(run / "checkpoint.pt", {"model": latest.state_dict(), "step": 40})
    save_checkpoint(run / "best.pt", {"model": best.state_dict(), "step": 30, "best_val": 1.5})
    for which, expected, step in (("best", best, 30), ("latest", latest, 40)):
        source = load_source(run, which=which)
        assert source.training["step"] == step
        assert source.training["checkpoint"] == ("best.pt" if which == "best" else "checkpoint.pt")
        for name, tensor in expected.state_dict().items():
            assert torch.equal(source.model.state_dict()[name], tensor), name


def test_empty_run_folder_is_a_user_error(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "model"), "-q"]) == 2
    assert "holds no checkpoint" in capsys.readouterr().err
