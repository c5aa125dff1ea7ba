"""scripts/average_snapshots.py: a uniform average of the weights of snapshots of one run."""

import json

import pytest

from script_helpers import load_script, tiny_torch_run


def _snapshots(tmp_path):
    """Three snapshots of one tiny run whose float weights are 0, 1 and 5 (steps 30, 10, 20)."""
    import torch

    from fewshot_sep.train.checkpoint import read_checkpoint, save_checkpoint

    run = tiny_torch_run(tmp_path / "run")
    state = read_checkpoint(run / "checkpoint.pt")["model"]
    paths = []
    for step, value in ((30, 0.0), (10, 1.0), (20, 5.0)):
        weights = {name: (torch.full_like(t, value) if torch.is_floating_point(t) else t + step)
                   for name, t in state.items()}
        path = run / f"snapshot-{step:07d}.pt"
        save_checkpoint(path, {"model": weights, "step": step, "optimizer": {}})
        paths.append(path)
    return run, paths


def test_float_weights_are_averaged_and_counters_come_from_the_last_step(tmp_path):
    import torch

    from fewshot_sep.train.checkpoint import load_checkpoint, read_checkpoint

    run, paths = _snapshots(tmp_path)
    out = tmp_path / "soup"
    assert load_script("average_snapshots").main([*map(str, paths), "--out", str(out)]) == 0
    payload = read_checkpoint(out / "checkpoint.pt")
    assert payload["step"] == 30 and "optimizer" not in payload
    assert payload["averaged_from"] == ["snapshot-0000010.pt", "snapshot-0000020.pt", "snapshot-0000030.pt"]
    original = read_checkpoint(run / "checkpoint.pt")["model"]
    floats = [name for name, t in original.items() if torch.is_floating_point(t)]
    ints = [name for name, t in original.items() if not torch.is_floating_point(t)]
    assert floats and ints  # BatchNorm counters exist in the tiny model
    for name in floats:
        assert torch.allclose(payload["model"][name], torch.full_like(original[name], 2.0))
    for name in ints:
        assert torch.equal(payload["model"][name], original[name] + 30)
    assert json.loads((out / "config.json").read_text()) == json.loads((run / "config.json").read_text())
    load_checkpoint(out / "checkpoint.pt")  # loads like any snapshot


def test_snapshots_of_different_runs_are_refused(tmp_path, capsys):
    _, paths = _snapshots(tmp_path / "a")
    _, others = _snapshots(tmp_path / "b")
    with pytest.raises(SystemExit):
        load_script("average_snapshots").main([str(paths[0]), str(others[1]), "--out", str(tmp_path / "soup")])
    assert "2 run folders" in capsys.readouterr().err
    assert not (tmp_path / "soup").exists()
