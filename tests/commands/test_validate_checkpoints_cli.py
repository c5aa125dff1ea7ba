"""`fewshot-sep validate-checkpoints` scores one-hot checkpoints too, with their own class list."""

import re

import numpy as np
import pytest
import yaml

from fewshot_sep.cli import main
from train_test_helpers import REPO, smoke_config

torch = pytest.importorskip("torch")


def test_a_onehot_checkpoint_is_validated_with_its_class_table_and_published(tmp_path, capsys):
    from fewshot_sep.train.checkpoint import load_checkpoint
    from fewshot_sep.train.loop import build_sources, evaluate, train, validation_batches

    config = smoke_config(total_steps=2)
    config["model"]["conditioning"] = "onehot"
    # Rows in reverse label order, so a command that took the label as the row would score otherwise.
    config["model"]["classes"] = list(range(config["data"]["synthetic_instruments"]))[::-1]
    train(config, tmp_path / "run", progress=False)
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    # Two steps leave the FiLM layers near zero: scale them up so the class rows change the output.
    payload = torch.load(checkpoint, weights_only=True)
    for name, value in payload["model"].items():
        if ".film" in name or "dec_films" in name:
            value.mul_(30.0)
    torch.save(payload, checkpoint)
    config_path = tmp_path / "onehot-smoke.yaml"
    config_path.write_text(yaml.safe_dump(yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
                                          | {"model": {**config["model"], "classes": None}}))

    assert main(["validate-checkpoints", str(checkpoint), "--config", str(config_path), "--episodes", "4", "--threads", "1",
                        "--best-to", str(tmp_path / "published")]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| {checkpoint} ")]
    printed = float(re.split(r"\s*\|\s*", row[0])[3])

    model, saved = load_checkpoint(checkpoint)
    _, val_src = build_sources(config, progress=False)
    batches = validation_batches(val_src, 4, int(config["val"]["batch_size"]), torch.device("cpu"))
    assert saved["model"]["classes"] == config["model"]["classes"]
    index = {int(c): i for i, c in enumerate(saved["model"]["classes"])}
    identity = {int(c): int(c) for c in saved["model"]["classes"]}
    assert np.median(evaluate(model, batches, identity)) != pytest.approx(printed, abs=1e-3)
    assert printed == pytest.approx(float(np.median(evaluate(model, batches, index))), abs=1e-3)
    published, _ = load_checkpoint(tmp_path / "published")
    assert published.conditioning_mode == "onehot"


def test_missing_files_are_usage_errors(tmp_path, capsys):
    assert main(["validate-checkpoints", str(tmp_path / "none.pt"), "--config", str(REPO / "configs" / "smoke.yaml")]) == 2
    assert "none.pt does not exist" in capsys.readouterr().err
    (tmp_path / "a.pt").write_bytes(b"")
    assert main(["validate-checkpoints", str(tmp_path / "a.pt"), "--config", str(tmp_path / "no.yaml")]) == 2
    assert "no.yaml does not exist: give the config" in capsys.readouterr().err


def test_a_stereo_checkpoint_is_refused_on_mono_validation_episodes(tmp_path, capsys):
    """A ``model.stereo_input`` checkpoint scored with a config whose episodes are mono would
    read no other channel: refused, naming the fix."""
    from fewshot_sep.train.loop import train

    config = smoke_config(total_steps=1)
    config["model"]["stereo_input"] = True
    train(config, tmp_path / "run", progress=False)
    assert main(["validate-checkpoints", str(tmp_path / "run" / "checkpoint.pt"), "--config",
                 str(REPO / "configs" / "smoke.yaml"), "--episodes", "2", "--threads", "1"]) == 2
    assert "reads both channels (model.stereo_input)" in capsys.readouterr().err
