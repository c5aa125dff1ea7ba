"""Atomic writes under hostile conditions: SIGTERM mid-write, umasks, stale temp files, unwritable folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from plugin_helpers import gain_vector, noise
from repo_paths import TESTS

SLOW_WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[4])
    from plugin_helpers import gain_vector
    from fewshot_sep.plugin_host import FewShotSeparator, stream_file
    from fewshot_sep.realtime.model_files import ModelFiles

    model = ModelFiles.load(sys.argv[1])
    inner = FewShotSeparator(conditioning=gain_vector(0.5, model.conditioning_dim), model=model)

    class Slow:  # the real separator, slowed down so the write is surely under way
        latency_samples = 0
        def reset(self):
            inner.reset()
        def process_channels_first(self, audio, sample_rate, buffer_size=8192, reset=True):
            time.sleep(0.05)
            out = inner.process_channels_first(audio, sample_rate, buffer_size, reset)
            self.latency_samples = inner.latency_samples
            return out

    stream_file([Slow()], sys.argv[2], [sys.argv[3]], chunk_frames=4096)
""")


def _sigterm_mid_write(child: subprocess.Popen, out_dir: Path, min_bytes: int) -> None:
    """Send SIGTERM to `child` once its hidden temp file in `out_dir` holds `min_bytes`; wait for it to end."""
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > min_bytes for p in out_dir.iterdir() if p.name.startswith(".")):
            assert child.poll() is None, f"finished before the signal: {child.stderr.read().decode()[-500:]}"
            assert time.monotonic() < deadline, "the writer never started its temp file"
            time.sleep(0.02)
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_sigterm_mid_write_leaves_no_temp_file(tmp_path, gain_model_dir):
    """A real SIGTERM (what timeout, systemd and docker stop send) while `stream_file` writes."""
    sf.write(tmp_path / "in.wav", noise(30.0, 44100, 2).T, 44100)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(gain_model_dir), str(tmp_path / "in.wav"),
                              str(out_dir / "out.wav"), str(TESTS)], stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    _sigterm_mid_write(child, out_dir, min_bytes=100_000)
    assert child.returncode == -signal.SIGTERM, child.stderr.read().decode()
    assert sorted(p.name for p in out_dir.iterdir()) == [], "a partial temp file was left behind"


@pytest.fixture()
def umask():
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_and_presets_follow_the_umask(tmp_path, gain_model, umask, mask):
    from fewshot_sep.plugin_host import FewShotSeparator, stream_file
    from plugin_helpers import make_gain_preset

    umask(mask)
    sf.write(tmp_path / "in.wav", noise(0.5, 44100, 2).T, 44100)
    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    stream_file([sep], tmp_path / "in.wav", [tmp_path / "out.wav"], progress=False)
    preset = make_gain_preset(tmp_path, gain_model, 0.5, name="shared")
    expected = 0o666 & ~mask
    assert oct((tmp_path / "out.wav").stat().st_mode & 0o777) == oct(expected)
    assert oct(preset.stat().st_mode & 0o777) == oct(expected)


def test_replacing_a_file_keeps_its_mode(tmp_path):
    from fewshot_sep.utils.atomic import write_text_atomic

    target = tmp_path / "notes.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and oct(target.stat().st_mode & 0o777) == oct(0o640)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temp_files_of_dead_writers_are_swept(tmp_path):
    from fewshot_sep.utils.atomic import write_text_atomic

    old = time.time() - 3600
    stale = tmp_path / f".out.txt.~{_dead_pid()}~abc123_x.txt"
    stale.write_bytes(b"x" * 1000)
    os.utime(stale, (old, old))
    busy = tmp_path / f".out.txt.~{os.getppid()}~zz9.txt"  # a writer that is still running
    busy.write_bytes(b"y")
    os.utime(busy, (old, old))
    fresh_dead = tmp_path / f".out.txt.~{_dead_pid()}~new1.txt"  # dead, but touched just now
    fresh_dead.write_bytes(b"z")
    other = tmp_path / ".unrelated.txt"
    other.write_bytes(b"keep")
    write_text_atomic(tmp_path / "out.txt", "result")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert stale.name not in names, "the stale temp file of a dead writer was not removed"
    assert {busy.name, fresh_dead.name, other.name, "out.txt"} <= set(names)


def test_unwritable_folder_error_names_the_output_not_the_temp_file(tmp_path, monkeypatch):
    import tempfile

    from fewshot_sep.utils.atomic import write_text_atomic
    from fewshot_sep.utils.errors import UserError

    def denied(prefix="", suffix="", dir=None):  # what a read-only folder does (tests may run as root)
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "q1w2e3" + suffix))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(UserError) as info:
        write_text_atomic(tmp_path / "result.txt", "x")
    message = str(info.value)
    assert "result.txt" in message and "q1w2e3" not in message and "Permission denied" in message


@pytest.mark.slow
def test_sigterm_to_the_separate_command_leaves_no_temp_file(tmp_path, gain_model, gain_model_dir):
    """The real command (`python -m fewshot_sep separate`, MP3 output: slow enough to catch mid-write)."""
    from plugin_helpers import make_gain_preset

    rng = np.random.default_rng(0)
    with sf.SoundFile(tmp_path / "in.wav", "w", 44100, 2, subtype="PCM_16") as f:
        for _ in range(24):  # 4 minutes
            f.write((0.1 * rng.standard_normal((441000, 2))).astype(np.float32))
    preset = make_gain_preset(tmp_path, gain_model, 0.5)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    child = subprocess.Popen([sys.executable, "-m", "fewshot_sep", "separate", str(tmp_path / "in.wav"), "-p",
                              str(preset), "-o", str(out_dir / "song.mp3"), "--model", str(gain_model_dir), "-q"],
                             stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    _sigterm_mid_write(child, out_dir, min_bytes=20_000)
    assert child.returncode == -signal.SIGTERM
    assert sorted(p.name for p in out_dir.iterdir()) == []
