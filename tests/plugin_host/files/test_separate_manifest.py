"""The job manifest of `separate --resume` (no Dask needed): what counts as done, what is redone."""

from __future__ import annotations

import json
import os

import soundfile as sf

from fewshot_sep.cli import main
from plugin_helpers import make_gain_preset, noise

MANIFEST = "fewshot-sep-manifest.jsonl"


def _setup(tmp_path, gain_model, gain_model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        sf.write(folder / f"t{i}.wav", noise(0.3, 44100, 2, seed=i).T, 44100)
    preset = make_gain_preset(tmp_path, gain_model, 0.3)

    def run(*extra: str, preset=preset) -> int:
        return main(["separate", str(folder), "-p", str(preset), "-o", str(tmp_path / "out"),
                     "--model", str(gain_model_dir), "-q", "--resume", *extra])

    return folder, run


def _summary(capsys) -> str:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("done ")][-1]


def test_resume_redoes_changed_inputs_and_other_settings(tmp_path, gain_model, gain_model_dir, capsys):
    folder, run = _setup(tmp_path, gain_model, gain_model_dir)
    assert run() == 0
    assert _summary(capsys).startswith("done 3, skipped 0, failed 0")
    assert run() == 0
    assert _summary(capsys).startswith("done 0, skipped 3, failed 0")

    sf.write(folder / "t1.wav", noise(0.4, 44100, 2, seed=9).T, 44100)  # the input changed
    assert run() == 0
    assert _summary(capsys).startswith("done 1, skipped 2, failed 0")

    (tmp_path / "out" / "t2.wav").write_bytes(b"truncated")  # an output that is not the recorded one
    assert run() == 0
    assert _summary(capsys).startswith("done 1, skipped 2, failed 0")

    assert run("--bit-depth", "16") == 0  # other settings: other job, everything again
    assert _summary(capsys).startswith("done 3, skipped 0, failed 0")
    other = make_gain_preset(tmp_path, gain_model, 0.5, name="half")
    assert run(preset=other) == 0
    assert _summary(capsys).startswith("done 3, skipped 0, failed 0")


def test_manifest_lines_and_a_torn_last_line(tmp_path, gain_model, gain_model_dir, capsys):
    folder, run = _setup(tmp_path, gain_model, gain_model_dir)
    assert run() == 0
    lines = [json.loads(line) for line in (tmp_path / "out" / MANIFEST).read_text().splitlines()]
    assert [os.path.basename(r["input"]) for r in lines] == ["t0.wav", "t1.wav", "t2.wav"]
    first = lines[0]
    assert first["status"] == "done" and first["error"] is None and abs(first["seconds"] - 0.3) < 1e-6
    assert first["output_bytes"] == [os.path.getsize(first["outputs"][0])]
    assert first["input_bytes"] == os.path.getsize(folder / "t0.wav") and len(first["input_sha256"]) == 64
    with open(tmp_path / "out" / MANIFEST, "a") as fh:
        fh.write('{"input": "' + str(folder / "t0.wav"))  # a driver killed mid-line
    capsys.readouterr()
    assert run() == 0
    assert _summary(capsys).startswith("done 0, skipped 3, failed 0")


def test_single_file_resume_keeps_the_manifest_beside_the_output(tmp_path, gain_model, gain_model_dir, capsys):
    sf.write(tmp_path / "song.wav", noise(0.3, 44100, 2).T, 44100)
    preset = make_gain_preset(tmp_path, gain_model, 0.3)
    args = ["separate", str(tmp_path / "song.wav"), "-p", str(preset), "-o", str(tmp_path / "res" / "x.wav"),
            "--model", str(gain_model_dir), "-q", "--resume"]
    assert main(args) == 0 and main(args) == 0
    assert _summary(capsys).startswith("done 0, skipped 1, failed 0")
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == [MANIFEST, "x.wav"]


def test_python_function_takes_preset_objects_and_model_files(tmp_path, gain_model):
    from fewshot_sep.plugin_host.files.batch import separate_files
    from fewshot_sep.presets import load_preset

    sf.write(tmp_path / "a.wav", noise(0.3, 44100, 2).T, 44100)
    preset = load_preset(make_gain_preset(tmp_path, gain_model, 0.3))
    lines: list[str] = []
    summary = separate_files([tmp_path / "a.wav"], tmp_path / "out", [preset], model=gain_model, stems=True,
                             resume=True, progress=False, log=lines.append)
    assert (len(summary.done), len(summary.failed), len(summary.skipped)) == (1, 0, 0)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MANIFEST, "gain.wav", "residual.wav"]
    assert summary.audio_seconds == 0.3 and summary.files_per_second > 0 and len(lines) == 1
