"""resolve_preset: builtin:NAME, library names, paths; the model check and its messages."""

from __future__ import annotations

import pytest

from fewshot_sep.presets import create_preset, resolve_preset, save_preset, save_to_library
from fewshot_sep.presets import resolve as resolve_module
from fewshot_sep.utils.errors import UserError
from preset_helpers import dark_tone, write


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def builtins(tmp_path, monkeypatch):
    folder = tmp_path / "builtin"
    folder.mkdir()
    monkeypatch.setattr(resolve_module, "builtin_dir", lambda: folder)
    return folder


@pytest.fixture()
def preset(tmp_path, identity_model):
    clip = write(tmp_path / "fiddle take.wav", dark_tone(196, 2.5))
    return create_preset("fiddle", [f"{clip}@0.5-"], model=identity_model)


def test_resolve_by_path_library_and_builtin(tmp_path, home, builtins, preset, identity_model):
    path = save_preset(preset, tmp_path / "p.json")
    assert resolve_preset(path, identity_model).conditioning().tobytes() == preset.conditioning().tobytes()
    assert resolve_preset(str(path), identity_model).name == "fiddle"
    save_to_library(preset)
    assert resolve_preset("Fiddle", identity_model).source.endswith("fiddle.json")
    save_preset(preset, builtins / "violin.json")
    got = resolve_preset("builtin:violin", identity_model)
    assert got.conditioning().tobytes() == preset.conditioning().tobytes()
    assert (got.default_mode, got.default_mix, got.model_id) == ("isolate", 1.0, identity_model.model_id)


def test_model_argument_may_be_none(tmp_path, preset, identity_model_dir, monkeypatch):
    monkeypatch.setenv("FEWSHOT_SEP_MODEL", str(identity_model_dir))
    path = save_preset(preset, tmp_path / "p.json")
    assert resolve_preset(path).name == "fiddle"


def test_unknown_names_list_what_exists(home, builtins, preset, identity_model):
    save_to_library(preset)
    save_preset(preset, builtins / "violin.json")
    with pytest.raises(UserError, match=r"no preset named 'cello' in your library .*your presets: fiddle; built-ins: builtin:violin"):
        resolve_preset("cello", identity_model)
    with pytest.raises(UserError, match="unknown built-in preset 'builtin:cello': available: builtin:violin"):
        resolve_preset("builtin:cello", identity_model)
    with pytest.raises(UserError, match="does not exist"):
        resolve_preset("no/such/file.json", identity_model)


def test_other_model_is_refused_with_rebuild_command(tmp_path, home, preset, gain_model):
    path = save_preset(preset, tmp_path / "p.json")
    with pytest.raises(UserError) as err:
        resolve_preset(path, gain_model)
    message = str(err.value)
    assert f"made with model {preset.model_id}" in message and gain_model.model_id in message
    assert "fewshot-sep preset create fiddle --examples 'fiddle take.wav@0.5-'" in message


def test_builtin_for_other_model_is_detected(builtins, preset, gain_model):
    save_preset(preset, builtins / "violin.json")
    with pytest.raises(UserError, match="(?s)made with model .*scripts/build_builtin_presets.py --model"):
        resolve_preset("builtin:violin", gain_model)


def test_corrupt_library_preset_is_reported(home, preset, identity_model):
    path = save_to_library(preset)
    path.write_text(path.read_text()[:-40])
    with pytest.raises(UserError, match="not valid JSON"):
        resolve_preset("fiddle", identity_model)
