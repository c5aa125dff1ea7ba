"""`separate` outputs: no silent overwrite, --mode both in one pass, --filename templates, umask."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from fewshot_sep.cli import main
from fewshot_sep.plugin_host.files.output_names import check_template, render
from fewshot_sep.utils.errors import UserError
from plugin_helpers import make_gain_preset, noise


@pytest.fixture
def setup(tmp_path, gain_model, gain_model_dir):
    preset = make_gain_preset(tmp_path, gain_model, 0.3, name="thirty")
    x = noise(0.5, 44100, 2, seed=1)
    sf.write(tmp_path / "song.wav", x.T, 44100, subtype="FLOAT")
    sf.write(tmp_path / "take.flac", noise(0.4, 48000, 1, seed=2).T, 48000)
    return tmp_path, ["--model", str(gain_model_dir), "-p", str(preset), "--bit-depth", "32", "-q"], x


def _read(path):
    y, rate = sf.read(path, dtype="float32", always_2d=True)
    return y.T


def test_an_existing_output_is_refused_without_overwrite(setup, capsys):
    tmp, opts, x = setup
    target = tmp / "out.wav"
    target.write_bytes(b"my mix, not to be lost")
    assert main(["separate", str(tmp / "song.wav"), "-o", str(target), *opts]) == 2
    err = capsys.readouterr().err
    assert "already exist" in err and "--overwrite" in err and str(target) in err
    assert target.read_bytes() == b"my mix, not to be lost"
    assert main(["separate", str(tmp / "song.wav"), "-o", str(target), "--overwrite", *opts]) == 0
    np.testing.assert_allclose(_read(target), 0.3 * x, atol=1e-5)


def test_a_batch_is_refused_before_any_work(setup, capsys):
    tmp, opts, x = setup
    out = tmp / "out"
    out.mkdir()
    (out / "take.flac").write_bytes(b"old")  # the second input's output exists
    assert main(["separate", str(tmp / "song.wav"), str(tmp / "take.flac"), "-o", str(out), *opts]) == 2
    assert "take.flac" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["take.flac"]  # song.wav was not written either
    assert main(["separate", str(tmp / "song.wav"), str(tmp / "take.flac"), "-o", str(out), "--overwrite",
                 *opts]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["song.wav", "take.flac"]


@pytest.mark.parametrize("modes", [["--mode", "both"], ["--mode", "isolate", "--mode", "remove"]])
def test_isolate_and_remove_in_one_pass_add_up_to_the_input(setup, modes):
    tmp, opts, x = setup
    assert main(["separate", str(tmp / "song.wav"), "-o", str(tmp / "out/"), *modes, *opts]) == 0
    isolated, removed = _read(tmp / "out" / "song-isolate.wav"), _read(tmp / "out" / "song-remove.wav")
    np.testing.assert_allclose(isolated, 0.3 * x, atol=1e-5)
    # remove = input - isolate from the same pass: they add up to the input to float32 rounding
    np.testing.assert_allclose(isolated.astype(np.float64) + removed, x, rtol=0, atol=1e-7)


def test_both_modes_need_a_folder_and_no_mix(setup, capsys):
    tmp, opts, x = setup
    assert main(["separate", str(tmp / "song.wav"), "-o", str(tmp / "o.wav"), "--mode", "both", *opts]) == 2
    assert "--mode both writes two files" in capsys.readouterr().err
    assert main(["separate", str(tmp / "song.wav"), "-o", str(tmp / "o/"), "--mode", "both", "--mix", "0.5",
                 *opts]) == 2
    assert "--mix does not apply to --mode both" in capsys.readouterr().err


def test_filename_template_with_folders(setup):
    tmp, opts, x = setup
    assert main(["separate", str(tmp / "song.wav"), str(tmp / "take.flac"), "-o", str(tmp / "out"),
                 "--filename", "{track}/{preset}-{mode}.{ext}", "--mode", "both", *opts]) == 0
    names = sorted(str(p.relative_to(tmp / "out")) for p in (tmp / "out").rglob("*") if p.is_file())
    assert names == ["song/thirty-isolate.wav", "song/thirty-remove.wav",
                     "take/thirty-isolate.flac", "take/thirty-remove.flac"]
    assert sf.info(tmp / "out" / "take" / "thirty-remove.flac").samplerate == 48000
    # A literal extension and --stems ({preset} = each stem, residual = remove)
    assert main(["separate", str(tmp / "song.wav"), "--stems", "-o", str(tmp / "stems"),
                 "--filename", "{preset}_{mode}.flac", *opts]) == 0
    assert sorted(p.name for p in (tmp / "stems").iterdir()) == ["residual_remove.flac", "thirty_isolate.flac"]


@pytest.mark.parametrize(
    "template, message",
    [
        ("{track}-{stem}.{ext}", "unknown field {stem}: use the fields {track}, {preset}, {mode}, {ext}"),
        ("{}.wav", "empty field {}"),
        ("{track:>10}.{ext}", "takes no format spec"),
        ("/tmp/{track}.{ext}", "must stay inside the --output folder"),
        ("../{track}.{ext}", "must stay inside the --output folder"),
        ("{track", "not a valid template"),
        ("{track}/", "ends in a folder"),
        ("", "is empty"),
    ],
)
def test_bad_templates_are_explained(template, message):
    with pytest.raises(UserError, match=None) as err:
        check_template(template)
    assert message in str(err.value)


def test_template_clashes_and_unwritable_extensions_are_usage_errors(setup, capsys):
    tmp, opts, x = setup
    two = [str(tmp / "song.wav"), str(tmp / "take.flac")]
    assert main(["separate", *two, "-o", str(tmp / "o"), "--filename", "{preset}.{ext}", "--format", "wav",
                 *opts]) == 2
    assert "put the fields that tell them apart" in capsys.readouterr().err
    assert main(["separate", two[0], "-o", str(tmp / "o"), "--filename", "{track}.txt", *opts]) == 2
    assert "txt" in capsys.readouterr().err
    assert not (tmp / "o").exists()
    assert render("{track}/{mode}.{ext}", track="a", preset="p", mode="remove", ext=".wav") == "a/remove.wav"


@pytest.fixture()
def umask():
    saved = os.umask(0o022)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_cli_outputs_follow_the_umask(setup, umask, mask):
    tmp, opts, x = setup
    umask(mask)
    assert main(["separate", str(tmp / "song.wav"), "-o", str(tmp / "out"), "--mode", "both",
                 "--filename", "{track}/{mode}.{ext}", *opts]) == 0
    for name in ("isolate.wav", "remove.wav"):
        assert oct((tmp / "out" / "song" / name).stat().st_mode & 0o777) == oct(0o666 & ~mask)
