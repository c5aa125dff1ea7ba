"""`fewshot-sep export` on the command line: folder written, errors are clear, --force, --preset."""

from __future__ import annotations

import json

import pytest
from export_helpers import SMOKE_CONFIG_PATH
from fewshot_sep.cli import main
from fewshot_sep.presets import create_preset, save_preset
from fewshot_sep.realtime.model_files import ModelFiles
from preset_helpers import dark_tone, write


@pytest.fixture(scope="module")
def config_file():
    return SMOKE_CONFIG_PATH


def test_untrained_export_from_config(config_file, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["export", str(config_file), "--untrained", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr()
    card = json.loads((out / "model_card.json").read_text())
    assert card["training"] == {"status": "untrained", "config": "smoke.yaml", "seed": 0}
    assert card["model_id"] in printed.out and "untrained" in printed.err
    assert ModelFiles.load(out).model_id == card["model_id"]
    # An existing model folder is only replaced with --force.
    assert main(["export", str(config_file), "--untrained", "--out", str(out), "-q"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", str(config_file), "--untrained", "--seed", "1", "--out", str(out), "-q", "--force"]) == 0
    assert json.loads((out / "model_card.json").read_text())["model_id"] != card["model_id"]


@pytest.mark.parametrize("args, expected", [
    (["{config}", "--out", "{tmp}/m"], "is a config file, not a checkpoint"),
    (["{tmp}/missing_run", "--out", "{tmp}/m"], "does not exist"),
    (["{config}", "--untrained", "--out", "{tmp}/m", "--opset", "13"], "--opset 13"),
])
def test_bad_arguments_are_user_errors(config_file, tmp_path, capsys, args, expected):
    argv = ["export"] + [a.format(config=config_file, tmp=tmp_path) for a in args] + ["-q"]
    assert main(argv) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_foreign_folder_is_never_replaced(config_file, tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("keep me")
    assert main(["export", str(config_file), "--untrained", "--out", str(out), "-q", "--force"]) == 2
    assert "does not look like a model folder" in capsys.readouterr().err
    assert (out / "todo.txt").read_text() == "keep me"


def test_preset_is_baked_and_checked(config_file, tmp_path, capsys):
    model_dir = tmp_path / "model"
    assert main(["export", str(config_file), "--untrained", "--out", str(model_dir), "-q"]) == 0
    clip = write(tmp_path / "tone.wav", dark_tone(220.0, 2.0))
    preset_path = save_preset(create_preset("tone", [str(clip)], model=ModelFiles.load(model_dir)), tmp_path / "tone.json")

    baked = tmp_path / "baked"
    assert main(["export", str(config_file), "--untrained", "--out", str(baked), "--preset", str(preset_path), "-q"]) == 0
    assert (baked / "separator_tone.onnx").is_file()
    assert json.loads((baked / "model_card.json").read_text())["baked_presets"][0]["file"] == "separator_tone.onnx"

    other = tmp_path / "other"
    code = main(["export", str(config_file), "--untrained", "--seed", "3", "--out", str(other),
                 "--preset", str(preset_path), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "was made with model" in err and "preset create" in err
    assert not other.exists()


def test_without_torch_the_command_says_what_to_install(config_file, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    assert main(["export", str(config_file), "--untrained", "--out", str(tmp_path / "m"), "-q"]) == 2
    assert "fewshot-sep[train]" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
