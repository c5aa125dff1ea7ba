"""Presets and `fewshot-sep preset` work with torch blocked (DESIGN.md layering)."""

from __future__ import annotations

import textwrap

from preset_helpers import dark_tone, write
from repo_paths import REPO


def test_preset_command_runs_without_torch(tmp_path, identity_model_dir, run_without_torch):
    clip = write(tmp_path / "a.wav", dark_tone(110, 2.0))
    out = tmp_path / "p.json"
    code = textwrap.dedent(f"""
        import fewshot_sep.presets
        import fewshot_sep.commands.preset
        from fewshot_sep.cli import main

        rc = main(["preset", "create", "x", "-e", {str(clip)!r}, "-o", {str(out)!r}, "--model", {str(identity_model_dir)!r}])
        assert rc == 0, rc
        assert main(["preset", "show", {str(out)!r}, "--model", {str(identity_model_dir)!r}]) == 0
        assert fewshot_sep.presets.resolve_preset({str(out)!r}, {str(identity_model_dir)!r}).conditioning().shape == (33,)
        assert not imported(), imported()
    """)
    result = run_without_torch(code, cwd=REPO, env={"FEWSHOT_SEP_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.exists()
