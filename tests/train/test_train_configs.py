"""The shipped configs parse; the one-hot baseline config trains; bad configs give clear errors."""

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import REPO, smoke_config  # noqa: E402


@pytest.mark.parametrize("name", sorted(path.stem for path in (REPO / "configs").glob("*.yaml")))
def test_shipped_configs_build_a_model(name):
    from fewshot_sep.model import build_model
    from fewshot_sep.train.config import load_config

    config = load_config(REPO / "configs" / f"{name}.yaml")
    if config["model"]["conditioning"] == "onehot":
        config["model"]["classes"] = [0, 1, 2]
    model = build_model(config)
    assert model.conditioning_dim == 2 * config["model"]["embedding_dim"] + 1


def test_onehot_baseline_trains_with_its_config_switch(tmp_path):
    from fewshot_sep.train.checkpoint import load_checkpoint
    from fewshot_sep.train.config import load_config
    from fewshot_sep.train.loop import train

    onehot = load_config(REPO / "configs" / "onehot-stage8.yaml")
    config = smoke_config(total_steps=3)
    config["model"]["conditioning"] = onehot["model"]["conditioning"]
    summary = train(config, tmp_path / "onehot", progress=False)
    assert summary["step"] == 3
    model, saved = load_checkpoint(tmp_path / "onehot")
    assert saved["model"]["classes"] == list(range(config["data"]["synthetic_instruments"]))
    assert model.class_embedding is not None and model.conditioning_mode == "onehot"


def test_bad_config_is_a_user_error(tmp_path):
    from fewshot_sep.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  batch_sise: 4\n")
    assert main(["train", str(bad), "--run-dir", str(tmp_path / "r")]) == 2
    missing_data = tmp_path / "nodata.yaml"
    missing_data.write_text(f"data:\n  root: {tmp_path / 'absent'}\n")
    assert main(["train", str(missing_data), "--run-dir", str(tmp_path / "r2")]) == 2
    assert main(["train", str(Path(tmp_path / "absent.yaml"))]) == 2
