"""Same seed -> byte-identical stems and manifest; resuming re-renders only what is missing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fewshot_sep.data.render import render_dataset


def _files(folder: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and (p.suffix == ".flac" or p.name == "manifest.csv"):
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out


def _render(out: Path, **kw) -> None:
    render_dataset(out, progress=False, log=lambda m: None, gen_seconds=(5.0, 7.0), **kw)


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    _render(tmp_path / "a", hours=0.01, seed=3, use_corpus=False)
    _render(tmp_path / "b", hours=0.01, seed=3, use_corpus=False)
    _render(tmp_path / "c", hours=0.003, seed=4, use_corpus=False)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert len(a) >= 3 and a == b
    assert a["manifest.csv"] != c["manifest.csv"]
    assert set(a) & set(c) == {"manifest.csv"} or any(a[k] != c[k] for k in set(a) & set(c) if k != "manifest.csv")


def test_resume_skips_finished_and_restores_missing(tmp_path):
    out = tmp_path / "r"
    _render(out, hours=0.01, seed=5, use_corpus=False)
    before = _files(out)
    stems = sorted(out.rglob("*.flac"))
    mtimes = {p: p.stat().st_mtime_ns for p in stems}
    victim = stems[0]
    victim.unlink()
    _render(out, hours=0.01, seed=5, use_corpus=False)
    assert _files(out) == before
    # only the work with the missing stem was rendered again
    untouched = [p for p in stems if p.parent != victim.parent]
    assert all(p.stat().st_mtime_ns == mtimes[p] for p in untouched)


def test_other_seed_in_same_folder_is_refused(tmp_path):
    from fewshot_sep.utils.errors import UserError

    _render(tmp_path, hours=0.005, seed=1, use_corpus=False)
    with pytest.raises(UserError, match="seed"):
        _render(tmp_path, hours=0.005, seed=2, use_corpus=False)


@pytest.mark.slow
def test_cli_render_005_hours_twice_same_bytes(tmp_path):
    """The acceptance command (with music21 corpus works), 1 vs 2 workers."""
    env = dict(os.environ)
    for name, workers in (("a", "1"), ("b", "2")):
        subprocess.run([sys.executable, "-m", "fewshot_sep", "data", "render", "--out", str(tmp_path / name),
                        "--hours", "0.05", "--seed", "0", "--workers", workers, "--quiet"],
                       check=True, env=env, capture_output=True)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a == b and any("m21_" in k for k in a)
    res = subprocess.run([sys.executable, "-m", "fewshot_sep", "data", "validate", str(tmp_path / "a")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_known_unusable_corpus_work_fails_at_once_and_stays_listed(tmp_path):
    """A listed score is refused before music21 parses it (that took a worker 10 to 15 minutes),
    and the list names only scores that are in the training corpus."""
    from fewshot_sep.data.corpus import KNOWN_UNUSABLE, list_corpus_works, load_corpus_parts

    works = set(list_corpus_works())
    for rel_path in KNOWN_UNUSABLE:
        assert rel_path in works, rel_path
        with pytest.raises(RuntimeError, match="known, skipped"):
            load_corpus_parts(rel_path, tmp_path, max_seconds=30.0)
    assert not any(tmp_path.iterdir())  # nothing cached or marked failed: no parse was tried
