"""The run-time path (realtime, presets, plugin_host, producer CLI) must work without torch.

Each check runs in a fresh interpreter where any `import torch` raises ImportError,
exactly as on a machine (or a frozen app) that has no torch installed.
"""

import subprocess
import sys
import textwrap

import pytest

BLOCK_TORCH = textwrap.dedent(
    """
    import sys, importlib.abc

    class _NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"torch is blocked in this test (import of {name!r})")
            return None

    sys.meta_path.insert(0, _NoTorch())
    """
)


def _run_without_torch(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_blocker_really_blocks_torch():
    proc = _run_without_torch("import torch")
    assert proc.returncode != 0 and "torch is blocked" in proc.stderr


@pytest.mark.parametrize(
    "module",
    ["fewshot_sep.realtime", "fewshot_sep.presets", "fewshot_sep.plugin_host", "fewshot_sep.utils.audio",
     "fewshot_sep.utils.console", "fewshot_sep.commands.completion"],
)
def test_runtime_layer_imports_without_torch(module):
    proc = _run_without_torch(
        f"""
        import importlib, pkgutil
        pkg = importlib.import_module({module!r})
        # import every submodule too, not just the package's __init__
        for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), prefix=pkg.__name__ + "."):
            importlib.import_module(info.name)
        assert "torch" not in sys.modules
        """
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("command", ["separate", "preset", "live", "devices", "demo", "completion"])
def test_producer_commands_parse_without_torch(command):
    proc = _run_without_torch(
        f"""
        from fewshot_sep.cli import main
        try:
            main([{command!r}, "--help"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        assert "torch" not in sys.modules
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_completion_script_is_made_without_torch():
    proc = _run_without_torch(
        """
        from fewshot_sep.cli import main
        assert main(["completion", "bash"]) == 0
        assert "torch" not in sys.modules
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "_fewshot_sep()" in proc.stdout
