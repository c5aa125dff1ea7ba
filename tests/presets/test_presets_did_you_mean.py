"""Near-miss preset names get a "did you mean" hint wherever a name is resolved (difflib)."""

from __future__ import annotations

import pytest

from fewshot_sep.cli import main
from fewshot_sep.presets import create_preset, resolve_preset, save_preset, save_to_library
from fewshot_sep.presets import resolve as resolve_module
from fewshot_sep.presets.names import did_you_mean
from fewshot_sep.utils.errors import UserError
from preset_helpers import dark_tone, write


@pytest.fixture()
def library(tmp_path, monkeypatch, identity_model):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    builtins = tmp_path / "builtin"
    builtins.mkdir()
    monkeypatch.setattr(resolve_module, "builtin_dir", lambda: builtins)
    clip = write(tmp_path / "take.wav", dark_tone(196, 2.5))
    preset = create_preset("upright bass", [clip], model=identity_model)
    save_to_library(preset)
    save_preset(preset, builtins / "violin.json")
    save_preset(preset, builtins / "viola.json")
    return preset


def test_did_you_mean_is_case_insensitive_and_quiet_when_nothing_is_close():
    assert did_you_mean("Violn", ["violin", "cello"]) == " (did you mean violin?)"
    assert did_you_mean("kazoo", ["violin", "cello"]) == ""
    assert did_you_mean("violn", {"violin": "builtin:violin"}) == " (did you mean builtin:violin?)"


@pytest.mark.parametrize(
    "typed, hint",
    [
        ("builtin:violn", "did you mean builtin:violin"),
        ("violn", "did you mean builtin:violin"),  # a library name that is a built-in's, without the prefix
        ("uprigt bass", "did you mean upright bass"),
        ("builtin:upright bass", None),  # not a built-in, and no built-in is close
    ],
)
def test_near_misses_are_suggested(library, identity_model, typed, hint):
    with pytest.raises(UserError) as err:
        resolve_preset(typed, identity_model)
    if hint is None:
        assert "did you mean" not in str(err.value)
    else:
        assert hint in str(err.value), str(err.value)


def test_cli_separate_and_library_commands_suggest(library, tmp_path, identity_model_dir, capsys):
    song = write(tmp_path / "song.wav", dark_tone(110, 0.5))
    rc = main(["separate", str(song), "-p", "builtin:vilin", "-o", str(tmp_path / "o.wav"),
               "--model", str(identity_model_dir)])
    assert rc == 2
    assert "did you mean builtin:violin" in capsys.readouterr().err
    assert main(["preset", "delete", "upright bas"]) == 2
    assert "did you mean upright bass?" in capsys.readouterr().err
