"""`fewshot-sep separate`: single file, batches with a bad file, stems, chains, safety."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from fewshot_sep.cli import main
from plugin_helpers import make_gain_preset, noise


@pytest.fixture
def setup(tmp_path, gain_model, gain_model_dir):
    preset = make_gain_preset(tmp_path, gain_model, 0.3, name="thirty")
    x = noise(0.5, 44100, 2, seed=1)
    sf.write(tmp_path / "song.wav", x.T, 44100, subtype="FLOAT")
    return tmp_path, str(gain_model_dir), str(preset), x


def _read(path):
    y, rate = sf.read(path, dtype="float32", always_2d=True)
    return y.T, rate


def test_single_file(setup):
    tmp, model, preset, x = setup
    rc = main(["separate", str(tmp / "song.wav"), "--preset", preset, "--output", str(tmp / "out.wav"),
               "--model", model, "--bit-depth", "32", "--quiet"])
    assert rc == 0
    y, rate = _read(tmp / "out.wav")
    assert rate == 44100
    np.testing.assert_allclose(y, 0.3 * x, atol=1e-5)
    rc = main(["separate", str(tmp / "song.wav"), "-p", preset, "-o", str(tmp / "rm.wav"), "--mode", "remove",
               "--mix", "0.5", "--model", model, "--bit-depth", "32", "-q"])
    assert rc == 0
    np.testing.assert_allclose(_read(tmp / "rm.wav")[0], 0.5 * x + 0.5 * 0.7 * x, atol=1e-5)


def test_batch_with_a_bad_file_continues_and_fails_at_the_end(setup, capsys):
    tmp, model, preset, x = setup
    folder = tmp / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", x.T, 44100)
    (folder / "b.wav").write_bytes(b"RIFF not really a wav")
    sf.write(folder / "c.flac", x[:1].T, 48000)
    rc = main(["separate", str(folder), "--preset", preset, "--output", str(tmp / "out"), "--model", model, "-q"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "b.wav: FAILED: cannot read" in err and "1 of 3 file(s) failed" in err
    assert sorted(p.name for p in (tmp / "out").iterdir()) == ["a.wav", "c.flac"]  # no partial b output
    assert sf.info(tmp / "out" / "c.flac").samplerate == 48000


def test_refuses_to_overwrite_the_input(setup, capsys):
    tmp, model, preset, x = setup
    before = (tmp / "song.wav").read_bytes()
    for extra in ([], ["--overwrite"]):  # a usage error, refused before any work, even with --overwrite
        rc = main(["separate", str(tmp / "song.wav"), "-p", preset, "-o", str(tmp / "song.wav"), "--model", model,
                   "-q", *extra])
        assert rc == 2
        assert "is the input file: refusing to overwrite it" in capsys.readouterr().err
        assert (tmp / "song.wav").read_bytes() == before


def test_stems_and_residual(setup, gain_model):
    tmp, model, preset, x = setup
    other = make_gain_preset(tmp, gain_model, 0.5, name="half")
    rc = main(["separate", str(tmp / "song.wav"), "--stems", "-p", preset, "-p", str(other),
               "-o", str(tmp / "stems"), "--model", model, "--bit-depth", "32", "-q"])
    assert rc == 0
    assert sorted(p.name for p in (tmp / "stems").iterdir()) == ["half.wav", "residual.wav", "thirty.wav"]
    np.testing.assert_allclose(_read(tmp / "stems" / "thirty.wav")[0], 0.3 * x, atol=1e-5)
    np.testing.assert_allclose(_read(tmp / "stems" / "half.wav")[0], 0.5 * x, atol=1e-5)
    # residual = input - sum of the stems, latency-aligned: 1 - 0.3 - 0.5 = 0.2
    np.testing.assert_allclose(_read(tmp / "stems" / "residual.wav")[0], 0.2 * x, atol=1e-5)


def test_chain_option(setup):
    tmp, model, preset, x = setup
    chain = tmp / "chain.json"
    chain.write_text(json.dumps({"plugins": [{"type": "Gain", "gain_db": -6.0206}, {"type": "FewShotSeparator"}]}))
    rc = main(["separate", str(tmp / "song.wav"), "--chain", str(chain), "-p", preset, "-o", str(tmp / "c.wav"),
               "--model", model, "--bit-depth", "32", "-q"])
    assert rc == 0
    np.testing.assert_allclose(_read(tmp / "c.wav")[0], 0.5 * 0.3 * x, atol=1e-4)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--mix", "2"], "mix 2.0 is invalid"),
        (["--stems", "--mode", "remove"], "--mode remove does not apply"),
        (["--format", "xyz"], "--format 'xyz' is not supported"),
    ],
)
def test_bad_options_are_user_errors(setup, capsys, extra, message):
    tmp, model, preset, x = setup
    rc = main(["separate", str(tmp / "song.wav"), str(tmp / "song.wav"), "-p", preset, "-o", str(tmp / "o"),
               "--model", model, "-q", *extra])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_unknown_preset_is_a_user_error(setup, capsys):
    tmp, model, preset, x = setup
    rc = main(["separate", str(tmp / "song.wav"), "-p", "no-such-preset", "-o", str(tmp / "o.wav"), "--model", model])
    assert rc == 2
    assert "no preset named 'no-such-preset'" in capsys.readouterr().err


def test_bundled_example_can_be_separated(tmp_path, gain_model):
    from fewshot_sep.plugin_host.files.example import example_mix_path, separate_example

    assert example_mix_path().is_file(), "the bundled example mix is missing from the package"
    preset = make_gain_preset(tmp_path, gain_model, 0.25, name="quarter")
    isolated, removed = separate_example(tmp_path / "demo", preset=str(preset), model=gain_model, progress=False)
    mix, rate = sf.read(example_mix_path(), dtype="float32", always_2d=True)
    a, rate_a = sf.read(isolated, dtype="float32", always_2d=True)
    b, _ = sf.read(removed, dtype="float32", always_2d=True)
    assert rate_a == rate and a.shape == mix.shape
    np.testing.assert_allclose(a + b, mix, atol=1e-3)  # isolate + remove = the mix (24-bit files)
    np.testing.assert_allclose(a, 0.25 * mix, atol=1e-3)
