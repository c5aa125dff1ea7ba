"""`separate` on a real Dask cluster (distributed.LocalCluster, 2 worker processes).

Outputs equal the local run's byte for byte; `--resume` skips finished files; a
worker killed mid-file (SIGKILL of its own process) still leaves a complete,
correct output set and a truthful manifest; a corrupt input fails alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fewshot_sep.cli import main
from plugin_helpers import make_gain_preset, noise

pytest.importorskip("distributed", reason="the 'distributed' extra is not installed")

MANIFEST = "fewshot-sep-manifest.jsonl"
N_FILES = 4


@pytest.fixture
def catalog(tmp_path, gain_model, gain_model_dir):
    """A folder of small files at assorted rates and channel counts, and a 0.3-gain preset."""
    preset = make_gain_preset(tmp_path, gain_model, 0.3, name="thirty")
    folder = tmp_path / "catalog"
    folder.mkdir()
    signals = {}
    for i, (rate, channels) in enumerate([(44100, 2), (48000, 1), (32000, 2), (44100, 1)][:N_FILES]):
        x = noise(0.6 + 0.1 * i, rate, channels, seed=i)
        name = f"song{i}.wav"
        sf.write(folder / name, x.T, rate, subtype="FLOAT")
        signals[name] = x
    return tmp_path, folder, str(preset), str(gain_model_dir), signals


def _separate(catalog, out: Path, *extra: str) -> int:
    tmp, folder, preset, model, _ = catalog
    return main(["separate", str(folder), "--preset", preset, "--output", str(out), "--model", model,
                 "--bit-depth", "32", "--chunk-seconds", "0.1", "-q", *extra])


def _local_reference(catalog) -> Path:
    out = catalog[0] / "local"
    assert _separate(catalog, out) == 0
    return out


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]


def _assert_same_files(reference: Path, out: Path) -> None:
    names = sorted(p.name for p in reference.iterdir())
    assert sorted(p.name for p in out.iterdir() if p.name != MANIFEST) == names  # no temp files either
    for name in names:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def _assert_truthful(out: Path, expected_done: set[str]) -> None:
    """Last line per input: done <=> its output exists with the recorded size."""
    last = {}
    for record in _manifest(out):
        last[Path(record["input"]).name] = record
    assert {name for name, r in last.items() if r["status"] == "done"} == expected_done
    for record in last.values():
        if record["status"] == "done":
            assert [os.path.getsize(p) for p in record["outputs"]] == record["output_bytes"]
            assert len(record["input_sha256"]) == 64 and record["seconds"] > 0


def test_cluster_output_equals_local_run(catalog, capsys):
    reference = _local_reference(catalog)
    out = catalog[0] / "cluster"
    assert _separate(catalog, out, "--workers", "2") == 0
    _assert_same_files(reference, out)
    _assert_truthful(out, set(catalog[4]))
    printed = capsys.readouterr().out
    assert f"done {N_FILES}, skipped 0, failed 0" in printed and "on 2 worker(s)" in printed
    # the gain double really ran: 0.3 x the input (at the model's rate: no resampler in between)
    y, rate = sf.read(out / "song0.wav", dtype="float32", always_2d=True)
    assert rate == 44100 and sf.info(out / "song1.wav").samplerate == 48000
    np.testing.assert_allclose(y.T, 0.3 * catalog[4]["song0.wav"], atol=1e-5)


def test_resume_skips_finished_files_and_redoes_missing_ones(catalog, capsys):
    out = catalog[0] / "cluster"
    assert _separate(catalog, out, "--workers", "2", "--resume") == 0
    kept = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != MANIFEST}
    (out / "song2.wav").unlink()  # lost output: must be done again
    capsys.readouterr()
    assert _separate(catalog, out, "--workers", "2", "--resume") == 0
    printed = capsys.readouterr().out
    assert f"done 1, skipped {N_FILES - 1}, failed 0" in printed
    for name, mtime in kept.items():
        if name != "song2.wav":
            assert (out / name).stat().st_mtime_ns == mtime, f"{name} was redone"
    assert (out / "song2.wav").is_file()
    _assert_same_files(_local_reference(catalog), out)
    _assert_truthful(out, set(catalog[4]))


def test_corrupt_input_fails_alone(catalog, capsys):
    tmp, folder = catalog[0], catalog[1]
    (folder / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    out = tmp / "cluster"
    assert _separate(catalog, out, "--workers", "2", "--resume") == 1
    captured = capsys.readouterr()
    assert "broken.wav: FAILED: cannot read" in captured.err
    assert f"done {N_FILES}, skipped 0, failed 1" in captured.out
    _assert_truthful(out, set(catalog[4]))
    broken = [r for r in _manifest(out) if r["input"].endswith("broken.wav")]
    assert broken[-1]["status"] == "failed" and "cannot read" in broken[-1]["error"]
    # a rerun skips the good files and tries the failed one again
    assert _separate(catalog, out, "--workers", "2", "--resume") == 1
    assert f"done 0, skipped {N_FILES}, failed 1" in capsys.readouterr().out


def test_worker_killed_mid_file_loses_nothing(catalog, tmp_path):
    from distributed import Client, LocalCluster

    from distributed_helpers import arm_suicide_on_first_write
    from fewshot_sep.plugin_host.files.batch import separate_files

    reference = _local_reference(catalog)
    marker = tmp_path / "killed.pid"
    out = tmp_path / "cluster"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        pids_before = set(client.run(arm_suicide_on_first_write, str(marker)).values())
        summary = separate_files(
            [catalog[1]], out, [catalog[2]], model=catalog[3], bit_depth=32, chunk_seconds=0.1,
            scheduler=cluster.scheduler_address, progress=False, log=lambda line: None,
        )
        pids_after = set(client.run(os.getpid).values())
    killed = json.loads(marker.read_text())
    assert killed["pid"] in pids_before and killed["pid"] not in pids_after  # a real worker process died
    # it died with its output half-written in a temp file beside the target
    assert any(name.startswith(".song") and name.endswith(".wav") for name in killed["folder"]), killed
    assert (len(summary.done), len(summary.failed)) == (N_FILES, 0)
    _assert_same_files(reference, out)  # complete, byte-identical, no half-written temp file left
    _assert_truthful(out, set(catalog[4]))
    assert all(r["status"] == "done" for r in _manifest(out))  # nothing listed before it was done


def test_scheduler_and_workers_together_is_a_usage_error(catalog, capsys):
    rc = _separate(catalog, catalog[0] / "out", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786")
    assert rc == 2
    assert "give one of them" in capsys.readouterr().err
    assert not (catalog[0] / "out").exists()


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_bad_worker_count_is_a_usage_error(catalog, capsys, workers):
    assert _separate(catalog, catalog[0] / "out", "--workers", workers) == 2
    assert f"--workers {workers} is invalid" in capsys.readouterr().err
