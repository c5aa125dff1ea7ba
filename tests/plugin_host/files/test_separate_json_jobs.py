"""`separate` for scripts: --json, a reader that closes the pipe early, --jobs, --threads, and the
warning for removing an instrument that is quiet in the mix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fewshot_sep.cli import main
from plugin_helpers import make_gain_preset, noise
from repo_paths import REPO as ROOT


@pytest.fixture
def batch(tmp_path, gain_model, gain_model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", noise(0.4, 44100, 2, seed=1).T, 44100, subtype="FLOAT")
    sf.write(folder / "b.flac", noise(0.3, 48000, 1, seed=2).T, 48000)
    sf.write(folder / "c.wav", noise(0.2, 32000, 2, seed=3).T, 32000)
    preset = make_gain_preset(tmp_path, gain_model, 0.3, name="thirty")
    return tmp_path, folder, ["--model", str(gain_model_dir), "-p", str(preset), "-q"]


def test_json_document_has_per_file_results(batch, gain_model, capsys):
    tmp, folder, opts = batch
    (folder / "d.wav").write_bytes(b"RIFF broken")
    rc = main(["separate", str(folder), "-o", str(tmp / "out"), "--mode", "both", "--json", *opts])
    assert rc == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # stdout is the document and nothing else
    assert (doc["status"], doc["exit_code"], doc["error"]) == ("failed", 1, None)
    assert [Path(f["input"]).name for f in doc["files"]] == ["a.wav", "b.flac", "c.wav", "d.wav"]
    a, b, c, d = doc["files"]
    assert a["status"] == "done" and a["sample_rate"] == 44100 and a["channels"] == 2
    assert abs(a["duration_s"] - 0.4) < 1e-6 and a["latency_samples"] == gain_model.latency_samples
    assert [(o["preset"], o["mode"], Path(o["path"]).name) for o in a["outputs"]] == [
        ("thirty", "isolate", "a-isolate.wav"), ("thirty", "remove", "a-remove.wav")]
    assert all(Path(o["path"]).is_file() for o in a["outputs"])
    assert b["sample_rate"] == 48000 and b["latency_samples"] > 0
    assert c["sample_rate"] == 32000  # streamed through 44.1 kHz: the delay is given at the file's rate
    assert abs(c["latency_samples"] - round(gain_model.latency_samples * 32000 / 44100)) <= 1
    assert d["status"] == "failed" and "cannot read" in d["error"] and d["duration_s"] is None
    assert doc["summary"]["done"] == 3 and doc["summary"]["failed"] == 1
    assert "d.wav: FAILED" in captured.err and "[1/4]" in captured.err  # messages went to stderr


def test_json_usage_error_is_a_document_too(batch, capsys):
    tmp, folder, opts = batch
    assert main(["separate", str(folder), "-o", str(tmp / "out"), "--json", "--filename", "{x}", *opts]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["status"] == "error" and doc["exit_code"] == 2 and "{x}" in doc["error"]
    assert "{x}" in captured.err


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fewshot_sep", *args]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_a_reader_that_stops_early_is_no_traceback(batch):
    """`separate ... | head -1` with a real pipe: the batch finishes, no BrokenPipeError traceback."""
    tmp, folder, opts = batch
    command = " ".join(f"'{a}'" for a in _cli("separate", str(folder), "-o", str(tmp / "out"), *opts))
    proc = subprocess.run(["bash", "-c", f"{command} | head -1; echo \"status ${{PIPESTATUS[0]}}\" >&2"],
                          capture_output=True, text=True, timeout=120, env=_env())
    assert proc.stdout.count("\n") == 1 and "a.wav" in proc.stdout  # head printed the first line only
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert "status 0" in proc.stderr
    assert sorted(p.name for p in (tmp / "out").iterdir()) == ["a.wav", "b.flac", "c.wav"]
    # Any other command: a closed pipe ends it quietly with SIGPIPE's status.
    proc = subprocess.run(["bash", "-c", " ".join(_cli("--help")) + " | head -c 1 >/dev/null; "
                           "echo \"status ${PIPESTATUS[0]}\" >&2"], capture_output=True, text=True, timeout=60,
                          env=_env())
    assert "Traceback" not in proc.stderr


def test_jobs_run_files_in_local_processes_with_the_same_outputs(batch, capsys):
    tmp, folder, opts = batch
    assert main(["separate", str(folder), "-o", str(tmp / "one"), "--bit-depth", "32", *opts]) == 0
    assert main(["separate", str(folder), "-o", str(tmp / "two"), "--bit-depth", "32", "--jobs", "2", *opts]) == 0
    out = capsys.readouterr().out
    assert "on 2 worker(s)" in out
    for name in ("a.wav", "b.flac", "c.wav"):
        assert (tmp / "one" / name).read_bytes() == (tmp / "two" / name).read_bytes(), name


def test_jobs_conflict_with_dask_options(batch, capsys):
    tmp, folder, opts = batch
    assert main(["separate", str(folder), "-o", str(tmp / "o"), "--jobs", "2", "--workers", "2", *opts]) == 2
    assert "--jobs runs files in local processes" in capsys.readouterr().err


def test_threads_give_the_same_result(batch):
    tmp, folder, opts = batch
    song = str(folder / "a.wav")
    assert main(["separate", song, "-o", str(tmp / "t1.wav"), "--bit-depth", "32", *opts]) == 0
    assert main(["separate", song, "-o", str(tmp / "t2.wav"), "--bit-depth", "32", "--threads", "2", *opts]) == 0
    one, _ = sf.read(tmp / "t1.wav", dtype="float32")
    two, _ = sf.read(tmp / "t2.wav", dtype="float32")
    np.testing.assert_allclose(one, two, atol=1e-6)


@pytest.mark.parametrize("gain, quiet", [(0.05, True), (0.3, False)])
def test_removing_a_quiet_part_warns(tmp_path, gain_model, gain_model_dir, capsys, gain, quiet):
    # The gain double's estimate is gain * input: 0.05 is -26 dB below the mix, 0.3 is -10.5 dB.
    sf.write(tmp_path / "song.wav", noise(0.4, 44100, 2).T, 44100)
    preset = make_gain_preset(tmp_path, gain_model, gain, name="faint")
    opts = ["--model", str(gain_model_dir), "-p", str(preset), "-q"]
    assert main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "rm.wav"), "--mode", "remove",
                 *opts]) == 0
    err = capsys.readouterr().err
    assert ("'faint' is quiet in this mix (its estimate is -26.0 dB below the mix" in err) is quiet, err
    assert main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "both"), "--mode", "both", "--json",
                 *opts]) == 0
    warnings = json.loads(capsys.readouterr().out)["files"][0]["warnings"]
    assert bool(warnings) is quiet and all("may sound worse" in w for w in warnings)
    # Isolating a quiet part is not worth a warning.
    assert main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "iso.wav"), *opts]) == 0
    assert "quiet in this mix" not in capsys.readouterr().err


def test_remove_with_a_partial_mix_measures_the_estimate(tmp_path, gain_model, gain_model_dir, capsys):
    sf.write(tmp_path / "song.wav", noise(0.4, 44100, 2).T, 44100)
    preset = make_gain_preset(tmp_path, gain_model, 0.05, name="faint")
    assert main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "rm.wav"), "--mode", "remove",
                 "--mix", "0.5", "--model", str(gain_model_dir), "-p", str(preset), "-q"]) == 0
    assert "-26.0 dB below the mix" in capsys.readouterr().err  # the estimate, not mix * estimate


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C's default action, even where the test runner was started
    with SIGINT ignored (a background job of a non-interactive shell, nohup)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_long_batch(tmp_path, gain_model, gain_model_dir, **popen):
    """`separate --jobs 2` over four 20 s files in a child process; returns (process, output folder)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        sf.write(folder / f"s{i}.wav", noise(20.0, 44100, 2, seed=i).T, 44100)
    preset = make_gain_preset(tmp_path, gain_model, 0.3)
    out = tmp_path / "out"
    child = subprocess.Popen(_cli("separate", str(folder), "-o", str(out), "-p", str(preset), "--model",
                                  str(gain_model_dir), "--jobs", "2", "-q"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                             preexec_fn=_default_sigint, **popen)
    return child, out


def _first_temp_file(child, out: Path):
    """The first temp file a job process writes in `out` (its pid is in the name), or None if none came."""
    import time

    deadline = time.time() + 60
    while time.time() < deadline and child.poll() is None:
        for entry in (out.iterdir() if out.is_dir() else []):
            if entry.name.startswith(".s"):
                return entry
        time.sleep(0.005)
    return None


def test_a_killed_job_process_loses_no_file(tmp_path, gain_model, gain_model_dir):
    """SIGKILL to a --jobs process mid-file: its files are tried again in a fresh pool; nothing is left half-written."""
    import re
    import signal

    child, out = _start_long_batch(tmp_path, gain_model, gain_model_dir)
    temp = _first_temp_file(child, out)
    assert temp is not None, "no job process was caught writing"
    killed = int(re.match(r"\.s\d\.wav\.~(\d+)~", temp.name)[1])
    assert killed != child.pid
    os.kill(killed, signal.SIGKILL)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in out.iterdir()) == ["s0.wav", "s1.wav", "s2.wav", "s3.wav"]  # no temp files
    for i in range(4):
        y, _ = sf.read(out / f"s{i}.wav", dtype="float32")
        assert y.shape == (20 * 44100, 2)


def test_ctrl_c_stops_a_jobs_batch_cleanly(tmp_path, gain_model, gain_model_dir):
    """SIGINT to the process group (what Ctrl-C sends) mid-file: exit 130, no traceback, no temp file."""
    import signal

    child, out = _start_long_batch(tmp_path, gain_model, gain_model_dir, start_new_session=True)
    assert _first_temp_file(child, out) is not None, "no job process was caught writing"
    os.killpg(child.pid, signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # completed outputs only


def _children(pid: int) -> list[int]:
    """The pids of `pid`'s child processes (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_ctrl_c_while_job_processes_are_still_starting(tmp_path, gain_model, gain_model_dir):
    """SIGINT while the pool's processes are importing (before their handler is in): still no traceback.

    Sent 0.15 s after two processes beside the CLI exist (the resource tracker and a first job
    process): the job process is then importing the package (about 0.05 to 0.35 s after its
    start here), the race CI once hit.
    """
    import signal
    import time

    child, out = _start_long_batch(tmp_path, gain_model, gain_model_dir, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and child.poll() is None and len(_children(child.pid)) < 2:
        time.sleep(0.002)
    time.sleep(0.15)
    assert child.poll() is None, "the batch ended before its processes were caught starting"
    os.killpg(child.pid, signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert not out.is_dir() or not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_sigint_held_back_blocks_it_in_spawned_processes_and_delivers_it_after():
    """Processes started inside `sigint_held_back` have SIGINT blocked; a SIGINT meanwhile is not lost."""
    import multiprocessing
    import signal

    from fewshot_sep.plugin_host.files.local_jobs import sigint_held_back

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the runner ignores Ctrl-C
    try:
        with pytest.raises(KeyboardInterrupt):
            with sigint_held_back():
                process = multiprocessing.get_context("spawn").Process(target=_report_blocked_signals)
                process.start()
                os.kill(os.getpid(), signal.SIGINT)  # held back: delivered as the block lifts
    finally:
        signal.signal(signal.SIGINT, previous)
    process.join(60)
    assert process.exitcode == 0  # the child saw SIGINT in its blocked mask


def _report_blocked_signals() -> None:
    import signal

    status = Path("/proc/self/status").read_text()
    blocked = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    raise SystemExit(0 if blocked & (1 << (signal.SIGINT - 1)) else 3)
