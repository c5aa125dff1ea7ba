"""The user preset library: names, save/list/rename/delete/import/export, atomic writes."""

from __future__ import annotations

import json

import pytest

from fewshot_sep.presets import (
    check_name,
    delete_from_library,
    export_preset,
    import_preset,
    library_dir,
    library_entries,
    load_preset,
    rename_in_library,
    save_preset,
    save_to_library,
)
from fewshot_sep.presets.library import find_in_library
from fewshot_sep.utils.errors import UserError
from fewshot_sep.utils.atomic import LOCK_NAME
from preset_helpers import synthetic_preset


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _preset(name):
    preset = synthetic_preset()
    preset.name = name
    return preset


@pytest.mark.parametrize("name", ["violin", "Upright Bass", "lead-synth_2", "Flûte à bec", "Bass (DI) + amp", "v1.2", "x" * 64])
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name, message", [
    ("../evil", "path separator"),
    ("..", "path separator"),
    ("a/b", "path separator"),
    ("a\\b", "path separator"),
    ("/etc/passwd", "path separator"),
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 65, "more than 64"),
    (".hidden", "not allowed"),
    ("-rf", "not allowed"),
    ("trailing ", "not allowed"),
    ("dot.", "not allowed"),
    ("tab\there", "not allowed"),
    ("a:b", "not allowed"),
    ("nul\x00byte", "path separator"),
    ("CON", "reserved on Windows"),
    ("com1.txt", "reserved on Windows"),
    ("violin.json", "without the extension"),
])
def test_unsafe_names_are_refused(name, message):
    with pytest.raises(UserError, match=message):
        check_name(name)


def test_library_dir_follows_env(home):
    assert library_dir() == home / "presets"


def test_save_list_find_delete(home):
    assert library_entries() == []
    path = save_to_library(_preset("Violin"))
    assert path == home / "presets" / "Violin.json"
    assert load_preset(path).name == "Violin"
    save_to_library(_preset("bass"))
    assert [n for n, _ in library_entries()] == ["bass", "Violin"]
    assert find_in_library("violin") == path  # case-insensitive
    with pytest.raises(UserError, match="already in your library.*--force"):
        save_to_library(_preset("VIOLIN"))
    save_to_library(_preset("VIOLIN"), overwrite=True)  # replaces, no second file
    assert [n for n, _ in library_entries()] == ["bass", "VIOLIN"]
    removed = delete_from_library("violin")
    assert not removed.exists()
    with pytest.raises(UserError, match="no preset named 'violin'.*your presets: bass"):
        delete_from_library("violin")
    with pytest.raises(UserError, match="path separator"):
        delete_from_library("../presets/bass")
    assert [n for n, _ in library_entries()] == ["bass"]


def test_stray_files_are_ignored(home):
    save_to_library(_preset("ok"))
    (home / "presets" / ".ok.json.tmp123.json").write_text("{}")  # an interrupted atomic write
    (home / "presets" / "notes.txt").write_text("hi")
    assert [n for n, _ in library_entries()] == ["ok"]


def test_rename(home):
    save_to_library(_preset("old"))
    save_to_library(_preset("taken"))
    with pytest.raises(UserError, match="already in your library"):
        rename_in_library("old", "Taken")
    with pytest.raises(UserError, match="path separator"):
        rename_in_library("old", "../../outside")
    new_path = rename_in_library("old", "new name")
    assert new_path.name == "new name.json" and load_preset(new_path).name == "new name"
    assert [n for n, _ in library_entries()] == ["new name", "taken"]
    # A case-only rename keeps one file.
    rename_in_library("new name", "New Name")
    assert [n for n, _ in library_entries()] == ["New Name", "taken"]
    assert not any(p.name.startswith(".") and p.name != LOCK_NAME for p in (home / "presets").iterdir())  # no temp files


def test_import_and_export(home, tmp_path):
    source = save_preset(_preset("shared"), tmp_path / "from a friend.json")
    path = import_preset(source)
    assert path.name == "shared.json"
    with pytest.raises(UserError, match="already in your library"):
        import_preset(source)
    assert import_preset(source, name="friend's").name == "friend's.json"
    with pytest.raises(UserError, match="path separator"):
        import_preset(source, name="../../x")
    # A tampered file is refused and not copied.
    doc = json.loads(source.read_text())
    doc["positive"]["count"] = 99
    (tmp_path / "tampered.json").write_text(json.dumps(doc))
    with pytest.raises(UserError, match="tampered.json' is invalid"):
        import_preset(tmp_path / "tampered.json", name="tampered")
    assert find_in_library("tampered") is None

    out = tmp_path / "export" / "mine.json"
    export_preset("shared", out)
    assert load_preset(out).to_json() == load_preset(path).to_json()
    with pytest.raises(UserError, match="already exists.*--force"):
        export_preset("shared", out)
    export_preset("friend's", out, overwrite=True)
    assert load_preset(out).name == "friend's"


def test_failed_write_keeps_the_old_file(home, monkeypatch):
    path = save_to_library(_preset("keep"))
    original = path.read_bytes()
    import os

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_to_library(_preset("keep"), overwrite=True)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert [p.name for p in path.parent.iterdir() if p.name != LOCK_NAME] == ["keep.json"]  # no temp file left behind
