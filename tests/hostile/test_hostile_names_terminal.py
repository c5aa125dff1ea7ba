"""Preset names and shared text against the terminal: a final newline is not a valid name, and
a shared preset's description and clip names cannot send escape sequences to the terminal."""

from __future__ import annotations

import json

import pytest

from fewshot_sep.cli import main
from fewshot_sep.presets import check_name, load_preset
from fewshot_sep.utils.errors import UserError
from plugin_helpers import make_gain_preset

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e"


@pytest.mark.parametrize("name", ["bass\n", "bass\r", "bass\n\n", "\nbass", "ba\nss", "bass\x1b[2J", "bass\u202e"])
def test_names_with_line_breaks_or_controls_are_refused(name):
    with pytest.raises(UserError, match="not allowed"):
        check_name(name)


def test_preset_file_named_with_a_final_newline_is_refused(tmp_path, gain_model):
    path = make_gain_preset(tmp_path, gain_model, 0.5, name="bass")
    doc = json.loads(path.read_text())
    doc["name"] = "bass\n"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="'name'"):
        load_preset(path)


def test_create_with_a_final_newline_exits_2(tmp_path, monkeypatch, capsys, identity_model_dir):
    from preset_helpers import dark_tone, write

    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    clip = write(tmp_path / "a.wav", dark_tone(110, 3.0))
    code = main(["preset", "create", "bass\n", "--examples", str(clip), "-q", "--model", str(identity_model_dir)])
    assert code == 2 and "'bass\\n'" in capsys.readouterr().err
    assert main(["preset", "list"]) == 0


def test_show_escapes_a_shared_presets_text(tmp_path, gain_model, gain_model_dir, capsys):
    path = make_gain_preset(tmp_path, gain_model, 0.5, name="shared")
    doc = json.loads(path.read_text())
    doc["description"] = f"nice{ESCAPES}preset"
    doc["clips"][0]["file"] = f"clip{ESCAPES}.wav"
    path.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["preset", "show", str(path), "--model", str(gain_model_dir)]) == 0
    out = capsys.readouterr().out
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in out, f"{raw!r} reached the terminal"
    assert "nice\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202epreset" in out
    assert "clip\\x1b[2J" in out
