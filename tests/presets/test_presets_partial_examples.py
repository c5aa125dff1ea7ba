"""Presets from real takes: sparse examples (rests everywhere) and a bad file among good ones."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.cli import main
from fewshot_sep.presets import add_examples, create_preset, load_preset
from fewshot_sep.presets.examples import SILENCE_FRAME_SECONDS, gather_sound
from fewshot_sep.utils.errors import UserError
from preset_helpers import dark_tone, write

SR = 44100


def sparse_line(notes: int, note_s: float = 0.2, every_s: float = 1.5, seed: int = 0) -> np.ndarray:
    """``[n]``: a bass line of `notes` short notes, one every `every_s` seconds, silence between."""
    audio = np.zeros(int(notes * every_s * SR), np.float32)
    for k in range(notes):
        start = int(k * every_s * SR)
        audio[start : start + int(note_s * SR)] = dark_tone(55 * (1 + k % 3), note_s, SR, seed=seed + k)
    return audio


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_gather_sound_keeps_the_sounding_parts_only():
    audio = sparse_line(5)
    gathered = gather_sound(audio, SR)
    frame = int(round(SILENCE_FRAME_SECONDS * SR))
    # 5 notes of 0.2 s, each rounded up to whole silence-detector frames
    assert 5 * 0.2 * SR <= len(gathered) <= 5 * (0.2 * SR + 2 * frame)
    assert np.abs(gathered[:10]).max() < 0.01 and np.abs(gathered[-10:]).max() < 0.01  # faded, no click
    assert gather_sound(np.zeros(SR, np.float32), SR).size == 0


def test_sparse_bass_line_is_built_from_its_sounding_parts(tmp_path, identity_model):
    # 0.2 s notes every 1.5 s: no 3 s clip of the model double is 25 % sound; 12 notes = 2.4 s of sound.
    path = write(tmp_path / "bass line.wav", sparse_line(12))
    warnings = []
    preset = create_preset("bass", [path], model=identity_model, on_warning=warnings.append)
    assert preset.positive.count >= 1
    assert any("sparse example" in w and "bass line.wav" in w for w in warnings), warnings
    assert 2.4 <= preset.clips[0].duration_s < 3.0  # the gathered sound, not the 18 s file


def test_too_little_sound_is_still_refused(tmp_path, identity_model):
    path = write(tmp_path / "three notes.wav", sparse_line(3))  # 0.6 s of sound in 4.5 s
    with pytest.raises(UserError, match=r"three notes\.wav: every 3 s clip is mostly silence.*add up to only 0\.\d+ s"):
        create_preset("bass", [path], model=identity_model)


def test_a_bad_file_among_good_ones_is_left_out_with_a_warning(tmp_path, identity_model):
    good = write(tmp_path / "good.wav", dark_tone(110, 2.0))
    silent = write(tmp_path / "silent.wav", np.zeros(2 * SR, np.float32))
    warnings = []
    preset = create_preset("x", [good, silent, tmp_path / "missing.wav"], model=identity_model,
                           on_warning=warnings.append)
    assert [c.file for c in preset.clips] == ["good.wav"]
    assert any("silent.wav: is silent" in w and "left out" in w and "--strict" in w for w in warnings)
    assert any("missing.wav" in w and "left out" in w for w in warnings)
    # The result equals a preset made from the good file alone.
    alone = create_preset("x", [good], model=identity_model)
    assert preset.conditioning().tobytes() == alone.conditioning().tobytes()
    # A bad negative is left out too; a preset with no good positive is still refused.
    preset = create_preset("x", [good], [silent], model=identity_model, on_warning=warnings.append)
    assert preset.negative.count == 0
    with pytest.raises(UserError, match=r"silent\.wav"):
        create_preset("x", [silent], [good], model=identity_model, on_warning=warnings.append)


def test_add_leaves_out_a_file_already_in_the_preset(tmp_path, identity_model):
    a = write(tmp_path / "a.wav", dark_tone(110, 2.0))
    b = write(tmp_path / "b.wav", dark_tone(165, 2.0, seed=3))
    preset = create_preset("x", [a], model=identity_model)
    warnings = []
    updated = add_examples(preset, [a, b], model=identity_model, on_warning=warnings.append)
    assert [c.file for c in updated.clips] == ["a.wav", "b.wav"]
    assert any("already in the preset" in w for w in warnings)
    with pytest.raises(UserError, match="already in the preset"):
        add_examples(preset, [a], model=identity_model, on_warning=warnings.append)  # nothing usable left
    with pytest.raises(UserError, match="already in the preset"):
        add_examples(preset, [a, b], model=identity_model, strict=True)


def test_cli_builds_from_the_good_files_and_strict_refuses(tmp_path, home, identity_model_dir, capsys):
    good = write(tmp_path / "take1.wav", dark_tone(110, 2.0))
    sparse = write(tmp_path / "take2.wav", sparse_line(12))
    silent = write(tmp_path / "take3.wav", np.zeros(2 * SR, np.float32))
    model = ["--model", str(identity_model_dir)]
    out = tmp_path / "p.json"
    argv = ["preset", "create", "bass", "-e", str(good), str(sparse), str(silent), "-o", str(out), *model]
    assert main([*argv, "--strict"]) == 2
    err = capsys.readouterr().err
    assert "take3.wav: is silent" in err and "nothing was written" in err and not out.exists()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "take3.wav: is silent" in err and "left out" in err and "sparse example" in err
    assert [c.file for c in load_preset(out).clips] == ["take1.wav", "take2.wav"]
