"""`fewshot-sep demo`: separates the bundled example mix with a built-in preset."""

import numpy as np

from fewshot_sep.cli import main
from fewshot_sep.plugin_host.files.example import example_mix_path
from fewshot_sep.utils.audio import read_audio


def test_demo_writes_aligned_isolate_and_remove(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out / "violin-isolated.wav") in printed
    assert "SI-SDR against the reference stem" in printed
    mix, sr = read_audio(example_mix_path())
    isolated, sr_iso = read_audio(out / "violin-isolated.wav")
    removed, _ = read_audio(out / "violin-removed.wav")
    assert sr_iso == sr and isolated.shape == mix.shape == removed.shape
    # remove = mixture - isolated, sample-aligned (24-bit files)
    assert np.abs(isolated + removed - mix).max() < 1e-4


def test_demo_refuses_a_file_as_output_folder(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["demo", "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_demo_unknown_preset_is_a_clear_error(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--preset", "builtin:kazoo"]) == 2
    assert "kazoo" in capsys.readouterr().err


def test_write_examples_gives_a_song_an_album_and_takes(tmp_path, capsys):
    out = tmp_path / "ex"
    assert main(["demo", "--write-examples", str(out)]) == 0
    assert "wrote 13 example files" in capsys.readouterr().out
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    takes = [f"{i}-{k}" for i in ("bass", "drums", "flute", "piano", "violin") for k in ("1.wav", "2.flac")]
    assert names == sorted(["song.wav", "album/01-verse.flac", "album/02-chorus.wav", *takes])
    mix, rate = read_audio(example_mix_path())
    song, song_rate = read_audio(out / "song.wav")
    assert song_rate == rate and song.shape == mix.shape and np.abs(song - mix).max() < 1e-4
    verse, _ = read_audio(out / "album" / "01-verse.flac")
    chorus, _ = read_audio(out / "album" / "02-chorus.wav")
    assert verse.shape[1] + chorus.shape[1] == mix.shape[1]
    # Nothing is replaced without --overwrite.
    assert main(["demo", "--write-examples", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["demo", "--write-examples", str(out), "--overwrite"]) == 0
