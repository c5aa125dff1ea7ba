"""The README runs top to bottom on a fresh machine.

Every ```sh and ```python block is run, in order, in one empty folder, with a fresh
home, preset library and cache, the packaged model, and `fewshot-sep` on PATH: the
files a block uses come from the package (`fewshot-sep demo --write-examples .`) or
from an earlier block. A block is skipped only when its first line is one of
`SKIP_MARKERS` (it needs an audio device, or it sets the machine up), and the README
must say so in that line. A block that fails fails this test, naming the block.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from repo_paths import REPO as ROOT

README = ROOT / "README.md"
SKIP_MARKERS = {
    "# needs an audio device: not run by tests/repo/test_readme.py": "live",
    "# sets up this machine: not run by tests/repo/test_readme.py (CI runs `make test` itself)": "make test",
}
_FENCE = re.compile(r"^```([A-Za-z0-9_-]*)\n(.*?)^```", re.S | re.M)


def readme_blocks() -> list[tuple[str, str, int]]:
    """``(language, code, line number)`` of every fenced block of the README."""
    text = README.read_text(encoding="utf-8")
    return [(m[1], m[2], text[: m.start()].count("\n") + 1) for m in _FENCE.finditer(text)]


def test_every_block_is_run_or_marked():
    blocks = readme_blocks()
    assert {lang for lang, _, _ in blocks} <= {"sh", "python"}, "a block in another language would not be run"
    skipped = [code for _, code, _ in blocks if code.splitlines()[0] in SKIP_MARKERS]
    assert len(skipped) == len(SKIP_MARKERS)  # each marker once, on the block it explains
    for code in skipped:
        assert SKIP_MARKERS[code.splitlines()[0]] in code
    assert len(blocks) - len(skipped) >= 5


def _environment(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "fewshot-sep"  # the console script, for this checkout and interpreter
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fewshot_sep "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEWSHOT_SEP_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "data"), FEWSHOT_SEP_HOME=str(tmp_path / "data" / "fewshot-sep"),
    )
    return env


def test_readme_runs_top_to_bottom(tmp_path):
    env = _environment(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    ran = 0
    for lang, code, line in readme_blocks():
        if code.splitlines()[0] in SKIP_MARKERS:
            continue
        argv = ["bash", "-euo", "pipefail", "-c", code] if lang == "sh" else [sys.executable, "-c", code]
        proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (
            f"README block at line {line} failed (exit {proc.returncode}):\n{code}\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
        assert "Traceback" not in proc.stderr, f"README block at line {line}:\n{proc.stderr[-3000:]}"
        ran += 1
    assert ran >= 5
    # What the blocks promise is there.
    results = json.loads((work / "results.json").read_text())
    assert results["status"] == "ok" and len(results["files"]) == 2
    for name in ("violin.wav", "no-bass.flac", "violin/song-isolate.wav", "violin/song-remove.wav",
                 "separated/song/upright_bass-isolate.wav", "stems/residual.wav", "chain.json", "mastered.wav",
                 "song-no-violin.wav", "bass.json"):
        assert (work / name).is_file(), name
    assert (tmp_path / "cache" / "fewshot-sep" / "demo" / "violin-isolated.wav").is_file()


@pytest.mark.parametrize("block", ["Set up", "Try it"])
def test_readme_keeps_its_sections(block):
    assert f"## {block}" in README.read_text(encoding="utf-8")
