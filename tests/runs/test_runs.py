"""fewshot_sep.runs: run configs and checkpoints without the trainer; the old paths still work,
and the release checkpoint and a run folder load and resume through the new module."""

from __future__ import annotations

import json

import pytest

from repo_paths import REPO


def test_old_import_paths_are_the_same_objects():
    from fewshot_sep.runs import checkpoint, config
    from fewshot_sep.train import checkpoint as old_checkpoint
    from fewshot_sep.train import config as old_config

    for name in ("load_checkpoint", "read_checkpoint", "save_checkpoint", "save_config", "publish_checkpoint",
                 "BEST_NAME", "CHECKPOINT_NAME", "CONFIG_NAME"):
        assert getattr(old_checkpoint, name) is getattr(checkpoint, name), name
    for name in ("load_config", "resolve_config", "apply_overrides", "DEFAULTS"):
        assert getattr(old_config, name) is getattr(config, name), name


def test_release_loads_through_runs():
    pytest.importorskip("torch")
    from fewshot_sep.runs.checkpoint import load_checkpoint, read_checkpoint

    model, config = load_checkpoint(REPO / "models" / "release")
    assert config["name"] == "release-stage8" and not model.training
    assert read_checkpoint(REPO / "models" / "release" / "checkpoint.pt")["step"] > 0


def test_a_run_resumes_through_runs(tmp_path):
    """What `train --resume` does before its first step: model, optimiser and counters from the run
    (a tiny one trained here in which only the fine head trains, so the optimiser holds a subset)."""
    torch = pytest.importorskip("torch")
    from fewshot_sep.model import build_model
    from fewshot_sep.runs.checkpoint import read_checkpoint
    from fewshot_sep.runs.config import resolve_config
    from fewshot_sep.train.loop import train, trainable_parameters
    from fewshot_sep.train.parameters import parameter_groups
    from train_test_helpers import smoke_config

    run = tmp_path / "run"
    train(smoke_config(total_steps=2, trainable=["separator.fine_head"]), run, progress=False)
    config = resolve_config(json.loads((run / "config.json").read_text(encoding="utf-8")))
    state = read_checkpoint(run / "checkpoint.pt")
    model = build_model(config)
    model.load_state_dict(state["model"], strict=True)
    train_cfg = config["train"]
    trained = trainable_parameters(model, train_cfg.get("trainable"), train_cfg.get("frozen_norms", "running"))
    optimizer = torch.optim.AdamW(parameter_groups(model, trained, train_cfg.get("lr_scale")),
                                  lr=float(train_cfg["lr"]), weight_decay=float(train_cfg["weight_decay"]))
    optimizer.load_state_dict(state["optimizer"])
    assert int(state["step"]) > 0 and int(state["episodes"]) > 0


def test_eval_and_export_do_not_import_the_trainer():
    import ast

    for package in ("eval", "export"):
        for path in (REPO / "fewshot_sep" / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module:
                    assert not node.module.startswith("fewshot_sep.train"), f"{path.name} imports {node.module}"
                if isinstance(node, ast.Import):
                    assert not any(a.name.startswith("fewshot_sep.train") for a in node.names), path.name


def test_retired_options_are_dropped_at_their_off_value_and_refused_otherwise():
    """Saved configs still carry the retired TCN and refiner keys at "off": they load (the keys
    dropped); any other value is refused naming the commit that holds the experiment's code."""
    from fewshot_sep.runs.config import resolve_config
    from fewshot_sep.utils.errors import UserError

    config = resolve_config({"model": {"tcn_dilations": None, "refiner": 0, "refiner_frames": 3}})
    assert not {"tcn_dilations", "refiner", "refiner_frames"} & set(config["model"])
    saved = json.loads((REPO / "models" / "onehot" / "config.json").read_text())
    assert saved["model"]["refiner"] == 0 and "refiner" not in resolve_config(saved)["model"]
    for key, value in (("refiner", 4), ("refiner_frames", 5), ("tcn_dilations", [1, 2])):
        with pytest.raises(UserError, match=rf"'model.{key}' belonged to a retired experiment \(git commit "
                                            r"bc17340, the lab notebook\)"):
            resolve_config({"model": {key: value}})


def test_run_configs_saved_with_retired_options_off_still_load(tmp_path):
    """Run configs saved while support attention (stages 15-16) and the fine head's frequency
    context (stage 17) existed carry their options at "off": such a run folder loads, the keys
    dropped when the config is resolved."""
    pytest.importorskip("torch")
    from fewshot_sep.model import build_model
    from fewshot_sep.runs.checkpoint import load_checkpoint, read_run_config, save_checkpoint, save_config
    from fewshot_sep.runs.config import resolve_config
    from train_test_helpers import smoke_config

    off = {"support_attention": 0, "support_heads": 4, "support_pool_frames": 8, "support_band_attention": 0,
           "support_band_level": 1, "support_band_heads": 2, "fine_head_context": 0}
    config = smoke_config()
    saved = {**config, "model": {**config["model"], **off}}
    run = tmp_path / "old-run"
    run.mkdir()
    save_config(run, saved)
    save_checkpoint(run / "checkpoint.pt", {"model": build_model(config).state_dict(), "step": 1})
    assert off.items() <= read_run_config(run)["model"].items()
    assert resolve_config(read_run_config(run)) == config
    model, _ = load_checkpoint(run)
    assert model.separator.fine_head is not None and not model.training


def test_support_attention_options_are_retired_and_a_config_that_uses_them_is_refused():
    """A config that turns a support attention layer on is refused naming the session and the commit."""
    from fewshot_sep.runs.config import resolve_config
    from fewshot_sep.utils.errors import UserError

    for key, value in (("support_attention", 64), ("support_band_attention", 32)):
        with pytest.raises(UserError, match=rf"'model.{key}' belonged to a retired experiment \(support attention, "
                                            r"retired in session 24; its code is at git commit 6027051\)"):
            resolve_config({"model": {key: value}})
