"""`fewshot-sep preset ...` end to end (in-process, with the model doubles)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fewshot_sep.cli import main
from fewshot_sep.presets import add_examples, create_preset, load_preset
from preset_helpers import bright_noise, dark_tone, write


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def clips(tmp_path):
    return {
        "a": write(tmp_path / "a.wav", dark_tone(110, 4.0)),
        "b": write(tmp_path / "b.flac", np.stack([dark_tone(147, 3.0, 48000)] * 2), 48000),
        "c": write(tmp_path / "c.wav", dark_tone(196, 5.0)),
        "n": write(tmp_path / "n.wav", bright_noise(3.0)),
    }


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_into_library_then_manage(home, clips, identity_model_dir, identity_model, capsys):
    m = ["--model", str(identity_model_dir)]
    code, out, err = run(capsys, "preset", "create", "My Bass", "--examples", str(clips["a"]), f"{clips['b']}@0.5-",
                         "--negative", str(clips["n"]), "--mode", "remove", "--mix", "0.8", "-q", *m)
    assert code == 0, err
    assert "saved preset 'My Bass'" in out and "negative clip" in out
    path = home / "presets" / "My Bass.json"
    preset = load_preset(path)
    assert (preset.default_mode, preset.default_mix) == ("remove", 0.8)
    # Same result as the Python API.
    api = create_preset("My Bass", [clips["a"], f"{clips['b']}@0.5-"], [clips["n"]], model=identity_model)
    assert api.conditioning().tobytes() == preset.conditioning().tobytes()

    code, out, _ = run(capsys, "preset", "create", "my bass", "-e", str(clips["c"]), *m)
    assert code == 2  # name taken (case-insensitive)

    code, out, _ = run(capsys, "preset", "list", *m)
    assert code == 0 and "My Bass" in out and "ok" in out
    code, out, _ = run(capsys, "preset", "list", "--json", *m)
    listing = json.loads(out)
    # built-ins (shipped with the packaged model) are listed too, under their builtin: names
    assert [p["name"] for p in listing["presets"] if not p["name"].startswith("builtin:")] == ["My Bass"]
    assert listing["presets"][0]["status"] == "ok"

    code, out, _ = run(capsys, "preset", "show", "my bass", *m)
    assert code == 0 and "b.flac@0.5-" in out and "matches the model in use" in out
    code, out, _ = run(capsys, "preset", "show", "My Bass", "--json")
    assert json.loads(out)["name"] == "My Bass"

    code, out, err = run(capsys, "preset", "add", "My Bass", "--examples", str(clips["c"]), *m)
    assert code == 0, err
    assert load_preset(path).positive.count == preset.positive.count + 3  # 5 s: clips at 0, 1.5, 2 s
    assert load_preset(path).conditioning().tobytes() == \
        add_examples(api, [clips["c"]], model=identity_model).conditioning().tobytes()

    code, out, err = run(capsys, "preset", "set", "My Bass", "--mode", "isolate", "--description", "DI bass")
    assert code == 0, err
    assert load_preset(path).default_mode == "isolate" and load_preset(path).description == "DI bass"

    exported = home.parent / "shared" / "bass.json"
    assert run(capsys, "preset", "export", "My Bass", str(exported))[0] == 0
    assert run(capsys, "preset", "rename", "My Bass", "bass-old")[0] == 0
    assert run(capsys, "preset", "import", str(exported), "--name", "bass-new")[0] == 0
    code, out, _ = run(capsys, "preset", "list", "--json")
    names = [p["name"] for p in json.loads(out)["presets"]]
    assert [n for n in names if not n.startswith("builtin:")] == ["bass-new", "bass-old"]
    assert run(capsys, "preset", "delete", "bass-old")[0] == 0
    code, out, err = run(capsys, "preset", "delete", "bass-old")
    assert code == 2 and "no preset named 'bass-old'" in err


def test_create_to_output_file(tmp_path, home, clips, identity_model_dir, capsys):
    out_path = tmp_path / "presets" / "fiddle.json"
    code, out, err = run(capsys, "preset", "create", "fiddle", "--examples", str(clips["a"]), "--output",
                         str(out_path), "--model", str(identity_model_dir))
    assert code == 0, err
    assert load_preset(out_path).name == "fiddle" and not home.exists()
    code, _, err = run(capsys, "preset", "create", "fiddle", "-e", str(clips["c"]), "-o", str(out_path),
                       "--model", str(identity_model_dir))
    assert code == 2 and "already exists" in err and "--force" in err
    assert load_preset(out_path).positive.count == 2  # untouched
    code, _, err = run(capsys, "preset", "create", "fiddle", "-e", str(clips["c"]), "-o", str(out_path),
                       "--force", "--model", str(identity_model_dir))
    assert code == 0 and load_preset(out_path).positive.count == 3
    # `add` updates a file in place, or writes elsewhere with --output.
    other = tmp_path / "more.json"
    code, _, err = run(capsys, "preset", "add", str(out_path), "-e", str(clips["a"]), "-o", str(other),
                       "--model", str(identity_model_dir))
    assert code == 0, err
    assert load_preset(other).positive.count == 5 and load_preset(out_path).positive.count == 3


@pytest.mark.parametrize("argv, message", [
    (["preset", "create", "../x", "-e", "a.wav"], "path separator"),
    (["preset", "create", "x", "-e", "a.wav", "-o", "x.txt"], "must be a .json file"),
    (["preset", "add", "nobody"], "nothing to add|no preset named"),
    (["preset", "set", "nobody"], "nothing to change"),
    (["preset", "show", "builtin:nothing"], "unknown built-in preset"),
    (["preset", "rename", "a", "b/c"], "no preset named 'a'|path separator"),
    (["preset", "export", "x", "out.wav"], "must be a .json file"),
    (["preset", "import", "missing.json"], "does not exist"),
])
def test_errors_are_clear(home, capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    import re

    assert re.search(message, err), err
    assert "Traceback" not in err


def test_builtins_are_read_only(tmp_path, home, clips, identity_model_dir, monkeypatch, capsys):
    from fewshot_sep.presets import resolve as resolve_module

    folder = tmp_path / "builtin"
    monkeypatch.setattr(resolve_module, "builtin_dir", lambda: folder)
    run(capsys, "preset", "create", "violin", "-e", str(clips["a"]), "-o", str(folder / "violin.json"),
        "--model", str(identity_model_dir))
    code, _, err = run(capsys, "preset", "add", "builtin:violin", "-e", str(clips["c"]), "--model", str(identity_model_dir))
    assert code == 2 and "read-only" in err and "preset import builtin:violin --name" in err
    code, out, err = run(capsys, "preset", "import", "builtin:violin", "--name", "my violin")
    assert code == 0, err
    code, out, _ = run(capsys, "preset", "list", "--model", str(identity_model_dir))
    assert "builtin:violin" in out and "my violin" in out


def test_list_marks_invalid_and_other_model_presets(home, clips, identity_model_dir, gain_model_dir, capsys):
    run(capsys, "preset", "create", "good", "-e", str(clips["a"]), "--model", str(identity_model_dir))
    (home / "presets" / "broken.json").write_text("{")
    code, out, _ = run(capsys, "preset", "list", "--model", str(gain_model_dir))
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(("library", "NAME"))}
    assert "other model" in lines["good"] and "INVALID" in lines["broken"]
    code, out, _ = run(capsys, "preset", "show", "good", "--model", str(gain_model_dir))
    assert "NOT the model in use" in out and "fewshot-sep preset create good --examples a.wav" in out
