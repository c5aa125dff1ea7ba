"""`make demo` sets up the run-time path alone, `make test` everything; torch is only in an extra.

scripts/setup.sh runs here with stand-ins for dpkg-query, id and Python on PATH, so the
test sees which system packages each path asks for and what it pip-installs, without
installing anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from repo_paths import REPO as ROOT

RUNTIME_APT = ["libportaudio2", "libsndfile1"]


def test_pyproject_keeps_torch_in_an_extra():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [d.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
             for d in project["dependencies"]]
    assert "torch" not in names and "dask" not in names and "pytest" not in names
    assert any(d.startswith("torch") for d in project["optional-dependencies"]["train"])


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_targets_choose_the_paths():
    def dry(target: str) -> str:
        return subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout

    assert "scripts/setup.sh --runtime" in dry("demo") and "--full" not in dry("demo")
    assert "scripts/setup.sh --full" in dry("test") and "pytest -m \"slow or not slow\" tests" in dry("test")


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _run_setup(tmp_path: Path, level: str, installed: bool) -> subprocess.CompletedProcess:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    log = tmp_path / "pip.log"
    _stub(stubs, "dpkg-query", 'echo "install ok installed"' if installed else "exit 1")
    _stub(stubs, "id", "echo 1000")  # not root: a missing package is reported, never installed
    # PYTHON makes the venv: its python records what it is asked to install.
    fake_python = f'mkdir -p "$3/bin"; printf \'#!/bin/sh\\necho "$@" >> {log}\\n\' > "$3/bin/python"; chmod +x "$3/bin/python"'
    _stub(stubs, "fake-python", fake_python)
    env = {**os.environ, "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}", "VENV": str(tmp_path / "venv"),
           "PYTHON": str(stubs / "fake-python")}
    return subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh"), level], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_runtime_path_asks_for_portaudio_and_libsndfile_only(tmp_path):
    proc = _run_setup(tmp_path, "--runtime", installed=False)
    assert proc.returncode == 1
    line = next(x for x in proc.stderr.splitlines() if "sudo apt-get install" in x)
    assert line.split("--no-install-recommends ")[1].split() == RUNTIME_APT
    proc = _run_setup(tmp_path, "--full", installed=False)
    full = next(x for x in proc.stderr.splitlines() if "sudo apt-get install" in x).split("--no-install-recommends ")[1]
    assert {"jackd2", "libfluidsynth3", "fluid-soundfont-gm", *RUNTIME_APT} <= set(full.split())


def test_runtime_path_installs_the_package_without_extras(tmp_path):
    proc = _run_setup(tmp_path, "--runtime", installed=True)
    assert proc.returncode == 0, proc.stderr
    installs = [line for line in (tmp_path / "pip.log").read_text().splitlines() if " -e " in line]
    assert installs == ["-m pip install -q -e ."]
    # A full set-up adds the extras, and afterwards serves the run-time path with nothing to do.
    proc = _run_setup(tmp_path, "--full", installed=True)
    assert proc.returncode == 0, proc.stderr
    installs = [line for line in (tmp_path / "pip.log").read_text().splitlines() if " -e " in line]
    assert installs[-1] == "-m pip install -q -e .[train,distributed,dev]"
    before = (tmp_path / "pip.log").read_text()
    assert _run_setup(tmp_path, "--runtime", installed=True).returncode == 0
    assert (tmp_path / "pip.log").read_text() == before


def test_unknown_setup_option_is_refused(tmp_path):
    proc = _run_setup(tmp_path, "--everything", installed=True)
    assert proc.returncode == 2 and "--runtime" in proc.stderr
