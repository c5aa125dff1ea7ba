"""Built-in presets: the build script (seen instruments only, resumable) and the shipped files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fewshot_sep.presets import list_builtins, load_preset, resolve_preset
from fewshot_sep.presets import resolve as resolve_module
from fewshot_sep.realtime.model_files import packaged_model_dir
from script_helpers import load_script

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
REQUIRED = {"piano", "acoustic-guitar", "electric-bass", "violin", "flute", "trumpet", "drums", "choir"}


def _script():
    return load_script("build_builtin_presets")


def test_builtins_are_seen_instruments():
    from fewshot_sep.data.split import instrument_status

    script = _script()
    names = {b.name for b in script.BUILTINS}
    assert REQUIRED <= names and len(names) >= 8
    for b in script.BUILTINS:
        assert all(instrument_status(i) == "seen" for i in b.instruments), b
    script.check_split()
    with pytest.raises(ValueError, match="unseen"):
        script.check_split((script.Builtin("fiddle", (110,), "melody"),))  # Fiddle is unseen


def _need_fluidsynth():
    # scripts/setup.sh installs pyfluidsynth and both soundfonts: their absence is a broken setup.
    import fluidsynth  # noqa: F401  (pyfluidsynth renders the example clips)

    for sf2 in SOUNDFONTS:
        assert Path(sf2).is_file(), f"soundfont {sf2} is not installed: run `make setup`"


def test_build_script_with_model_double(tmp_path, identity_model_dir, identity_model, gain_model, monkeypatch):
    _need_fluidsynth()
    script = _script()
    out = tmp_path / "presets"
    written = script.build(identity_model_dir, out, ["violin", "electric-bass"], phrases=1, seconds=4.0, seed=0,
                           force=False, keep_audio=None, progress=False)
    assert sorted(p.name for p in written) == ["electric-bass.json", "violin.json"]
    violin = load_preset(out / "violin.json")
    assert violin.model_id == identity_model.model_id
    assert violin.positive.count >= 2 and len(violin.clips) == 2  # one phrase per soundfont
    assert {c.file.split("_")[2] for c in violin.clips} == {"fluidr3", "timgm6mb"}
    assert "Violin (GM 40)" in violin.description
    assert oct(os.stat(out / "violin.json").st_mode & 0o777) == "0o644"

    # Resumable: an up-to-date preset is kept as is...
    mtime = (out / "violin.json").stat().st_mtime_ns
    script.build(identity_model_dir, out, ["violin"], phrases=1, seconds=4.0, seed=0, force=False,
                 keep_audio=None, progress=False)
    assert (out / "violin.json").stat().st_mtime_ns == mtime
    # ...and the same settings give the same embeddings (deterministic rendering).
    script.build(identity_model_dir, out, ["violin"], phrases=1, seconds=4.0, seed=0, force=True,
                 keep_audio=None, progress=False)
    assert load_preset(out / "violin.json").conditioning().tobytes() == violin.conditioning().tobytes()

    # Usable as builtin:NAME; refused with a clear message under another model.
    monkeypatch.setattr(resolve_module, "builtin_dir", lambda: out)
    assert resolve_preset("builtin:violin", identity_model).name == "violin"
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match="build_builtin_presets.py"):
        resolve_preset("builtin:violin", gain_model)


def test_shipped_builtins_match_the_packaged_model():
    """Once the release model is packaged, the shipped built-ins must exist and match it."""
    assert (packaged_model_dir() / "model_card.json").is_file(), (
        f"no packaged model in {packaged_model_dir()}: export one with scripts/export_release.sh")
    from fewshot_sep.realtime.model_files import ModelFiles

    model = ModelFiles.load(packaged_model_dir())
    shipped = list_builtins()
    missing = REQUIRED - set(shipped)
    assert not missing, f"built-in presets missing: {sorted(missing)}; run scripts/build_builtin_presets.py"
    for name in shipped:
        preset = resolve_preset(f"builtin:{name}", model)  # raises if made with another model
        assert preset.name == name
