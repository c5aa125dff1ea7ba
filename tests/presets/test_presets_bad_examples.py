"""Every kind of bad example gets a message naming the file and the problem; nothing is written.

A lone bad file is refused either way; with good files beside it, --strict (strict=True) refuses
and the default leaves it out with a warning (tests/presets/test_presets_partial_examples.py).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fewshot_sep.cli import main
from fewshot_sep.presets import create_preset
from fewshot_sep.utils.errors import UserError
from preset_helpers import dark_tone, write


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _good(tmp_path):
    return write(tmp_path / "good.wav", dark_tone(110, 2.0))


def _not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are my notes, not audio")
    return [str(path)], r"notes\.wav.*cannot read .* as audio"


def _missing(tmp_path):
    return [str(tmp_path / "missing.wav")], r"missing\.wav.*does not exist"


def _folder(tmp_path):
    (tmp_path / "folder.wav").mkdir()
    return [str(tmp_path / "folder.wav")], r"folder\.wav.*is a folder"


def _empty(tmp_path):
    return [str(write(tmp_path / "empty.wav", np.zeros(0, np.float32)))], r"empty\.wav.*no audio samples"


def _too_short(tmp_path):
    sr = 44100
    audio = np.concatenate([np.zeros(2 * sr), dark_tone(220, 0.5, sr), np.zeros(2 * sr)])
    return [str(write(tmp_path / "short.wav", audio, sr))], r"short\.wav.*only 0\.\d+ s of sound after trimming.*at least 1 s"


def _silent(tmp_path):
    return [str(write(tmp_path / "silent.flac", np.zeros((2, 44100 * 3), np.float32)))], r"silent\.flac.*is silent"


def _nan(tmp_path):
    audio = dark_tone(110, 2.0)
    audio[1000] = np.nan
    audio[2000] = np.inf
    return [str(write(tmp_path / "nan.wav", audio, subtype="FLOAT"))], r"nan\.wav.*2 NaN or infinite"


def _duplicate(tmp_path):
    good = _good(tmp_path)
    copy = tmp_path / "copy of good.wav"
    shutil.copy(good, copy)
    return [str(good), str(copy)], r"copy of good\.wav.*same file as .*good\.wav"


def _bad_segment(tmp_path):
    return [f"{_good(tmp_path)}@5-9"], r"segment 5-9 s of .*good\.wav.* is invalid: the file is 2\.00 s long"


def _segment_syntax(tmp_path):
    return [f"{_good(tmp_path)}@1-2-3"], r"segment '1-2-3' .* is not valid"


BAD = {
    "not audio": _not_audio, "missing": _missing, "folder": _folder, "empty": _empty, "too short": _too_short,
    "silent": _silent, "nan": _nan, "duplicate": _duplicate, "segment outside the file": _bad_segment,
    "segment syntax": _segment_syntax,
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_example_api(tmp_path, identity_model, case):
    files, message = BAD[case](tmp_path)
    with pytest.raises(UserError, match=message):
        create_preset("bad", files, model=identity_model, strict=True)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_example_cli_writes_nothing(tmp_path, identity_model_dir, home, capsys, case):
    files, message = BAD[case](tmp_path)
    out = tmp_path / "out" / "p.json"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = main(["preset", "create", "bad", "--examples", *files, "--output", str(out), "--model", str(identity_model_dir),
                 "--strict"])
    assert code == 2
    err = capsys.readouterr().err
    assert "error" in err
    import re

    assert re.search(message, err), err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no temp files either
    # Into the library: nothing there either.
    code = main(["preset", "create", "bad", "--examples", *files, "--model", str(identity_model_dir), "--strict"])
    assert code == 2
    assert not home.exists() or not any(home.rglob("*.json"))


def test_negative_examples_are_checked_too(tmp_path, identity_model):
    good = _good(tmp_path)
    silent = write(tmp_path / "quiet.wav", np.zeros(44100 * 2, np.float32))
    with pytest.raises(UserError, match=r"quiet\.wav.*is silent"):
        create_preset("x", [good], [silent], model=identity_model, strict=True)
    with pytest.raises(UserError, match=r"same file as .*good\.wav \(positive\)"):
        create_preset("x", [good], [good], model=identity_model, strict=True)
    with pytest.raises(UserError, match=r"good\.wav@0-: the same file"):
        create_preset("x", [good, f"{good}@0-"], model=identity_model, strict=True)


def test_all_bad_files_are_listed_at_once(tmp_path, identity_model):
    files = _missing(tmp_path)[0] + _silent(tmp_path)[0] + [str(_good(tmp_path))]
    with pytest.raises(UserError, match=r"(?s)2 examples cannot be used, nothing was written.*missing\.wav.*silent\.flac"):
        create_preset("x", files, model=identity_model, strict=True)


def test_clipped_example_warns_but_builds(tmp_path, identity_model_dir, identity_model, capsys):
    audio = np.clip(dark_tone(110, 3.0) * 4, -1, 1)
    clipped = write(tmp_path / "hot.wav", audio, subtype="FLOAT")
    with pytest.warns(UserWarning, match=r"hot\.wav: .*% of samples are at full scale \(clipped\)"):
        preset = create_preset("hot", [clipped], model=identity_model)
    assert preset.positive.count == 1
    out = tmp_path / "hot.json"
    assert main(["preset", "create", "hot", "-e", str(clipped), "-o", str(out), "--model", str(identity_model_dir)]) == 0
    assert "warning:" in capsys.readouterr().err and out.exists()
    # A few full-scale peaks (under 0.1 % of samples) are not worth a warning.
    peaks = dark_tone(110, 3.0)
    peaks[::5000] = 1.0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_preset("peaks", [write(tmp_path / "peaks.wav", peaks, subtype="FLOAT")], model=identity_model)


def test_mostly_silent_file_is_refused(tmp_path, identity_model):
    sr = 44100
    audio = np.zeros(10 * sr, np.float32)
    audio[::sr] = 0.5  # a click a second: sound at the edges, silence in every clip
    path = write(tmp_path / "clicks.wav", audio, sr, subtype="FLOAT")
    with pytest.raises(UserError, match=r"clicks\.wav: every 3 s clip is mostly silence"):
        create_preset("x", [path], model=identity_model)
