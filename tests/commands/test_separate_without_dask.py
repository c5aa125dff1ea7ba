"""Dask is an extra: `separate` (batches and --resume included) neither needs nor imports it.

Each check runs in a fresh interpreter where torch, dask and distributed cannot be
imported, as in the standalone app or a plain `pip install fewshot-sep`.
"""

from __future__ import annotations

import textwrap

import pytest
import soundfile as sf

from plugin_helpers import make_gain_preset, noise

@pytest.fixture
def run(run_without_torch):
    """Runs code (after ``from fewshot_sep.cli import main``) with torch, dask and distributed blocked."""
    return lambda code: run_without_torch("from fewshot_sep.cli import main\n" + textwrap.dedent(code),
                                          also=("dask", "distributed"))


def _args(tmp_path, gain_model, gain_model_dir) -> list[str]:
    preset = make_gain_preset(tmp_path, gain_model, 0.3)
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, noise(0.3, 44100, 2).T, 44100)
    return ["separate", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "--preset", str(preset),
            "--model", str(gain_model_dir), "--output", str(tmp_path / "out"), "-q"]


def test_batch_and_resume_run_without_dask(tmp_path, gain_model, gain_model_dir, run):
    args = _args(tmp_path, gain_model, gain_model_dir)
    proc = run(f"""
        for _ in range(2):
            assert main({args + ["--resume"]!r}) == 0
        assert not imported(), imported()
        """)
    assert proc.returncode == 0, proc.stderr
    assert "done 0, skipped 2, failed 0" in proc.stdout  # the second run found both files done
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", "b.wav", "fewshot-sep-manifest.jsonl"]


def test_workers_without_dask_is_a_clear_usage_error(tmp_path, gain_model, gain_model_dir, run):
    args = _args(tmp_path, gain_model, gain_model_dir)
    proc = run(f"""
        sys.exit(main({args + ["--workers", "2"]!r}))
        """)
    assert proc.returncode == 2, proc.stderr
    assert "--workers 2 needs Dask's distributed scheduler" in proc.stderr
    assert "pip install 'fewshot-sep[distributed]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
