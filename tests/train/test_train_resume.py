"""Checkpoint round trip and resume: an interrupted and resumed run ends bit-identical to a straight run."""

import json

import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


def test_resume_continues_exactly(tmp_path):
    from fewshot_sep.train.checkpoint import read_checkpoint
    from fewshot_sep.train.loop import train

    straight = train(smoke_config(total_steps=10), tmp_path / "straight", progress=False)
    first = train(smoke_config(total_steps=10), tmp_path / "resumed", max_steps=6, progress=False)
    assert first["step"] == 6
    part = read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert part["step"] == 6 and part["episodes"] == 6 * 4
    second = train(smoke_config(total_steps=10), tmp_path / "resumed", resume=True, progress=False)
    assert second["step"] == straight["step"] == 10

    a = read_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    state_a, state_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        for field in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(torch.as_tensor(state_a[key][field]), torch.as_tensor(state_b[key][field]))


def test_existing_run_needs_resume_and_checkpoint_loads_safely(tmp_path):
    from fewshot_sep.train.checkpoint import load_checkpoint
    from fewshot_sep.train.loop import train
    from fewshot_sep.utils.errors import UserError

    train(smoke_config(total_steps=2), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="--resume"):
        train(smoke_config(total_steps=2), tmp_path / "run", progress=False)
    model, config = load_checkpoint(tmp_path / "run")
    assert config == json.loads((tmp_path / "run" / "config.json").read_text())
    assert not model.training
    # the file is a plain dict of tensors and numbers (weights_only load works on it)
    payload = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert payload["step"] == 2 and isinstance(payload["elapsed_s"], float)
    with pytest.raises(UserError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing" / "checkpoint.pt")


def test_publish_copies_a_slim_checkpoint(tmp_path):
    from fewshot_sep.cli import main
    from fewshot_sep.train.checkpoint import load_checkpoint, read_checkpoint
    from fewshot_sep.train.loop import train

    train(smoke_config(total_steps=2), tmp_path / "run", progress=False)
    assert main(["train", "configs/smoke.yaml", "--run-dir", str(tmp_path / "run"),
                 "--publish", str(tmp_path / "models")]) == 0
    slim = read_checkpoint(tmp_path / "models" / "checkpoint.pt")
    assert "optimizer" not in slim and slim["step"] >= 0
    model, _ = load_checkpoint(tmp_path / "models")
    ref, _ = load_checkpoint(tmp_path / "run")
    for name, tensor in ref.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name])
