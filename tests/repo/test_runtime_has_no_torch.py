"""The run-time path (realtime, presets, plugin_host, producer CLI) must work without torch.

Each check runs in a fresh interpreter where any `import torch` raises ImportError,
exactly as on a machine (or a frozen app) that has no torch installed.
"""

import pytest


def test_blocker_really_blocks_torch(run_without_torch):
    proc = run_without_torch("import torch")
    assert proc.returncode != 0 and "torch is blocked" in proc.stderr


@pytest.mark.parametrize(
    "module",
    ["fewshot_sep.realtime", "fewshot_sep.presets", "fewshot_sep.plugin_host", "fewshot_sep.utils.audio",
     "fewshot_sep.utils.console", "fewshot_sep.commands.completion"],
)
def test_runtime_layer_imports_without_torch(module, run_without_torch):
    proc = run_without_torch(
        f"""
        import importlib, pkgutil
        pkg = importlib.import_module({module!r})
        # import every submodule too, not just the package's __init__
        for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), prefix=pkg.__name__ + "."):
            importlib.import_module(info.name)
        assert not imported(), imported()
        """
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("command", ["separate", "preset", "live", "devices", "demo", "completion"])
def test_producer_commands_parse_without_torch(command, run_without_torch):
    proc = run_without_torch(
        f"""
        from fewshot_sep.cli import main
        try:
            main([{command!r}, "--help"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        assert not imported(), imported()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_completion_script_is_made_without_torch(run_without_torch):
    proc = run_without_torch(
        """
        from fewshot_sep.cli import main
        assert main(["completion", "bash"]) == 0
        assert not imported(), imported()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "_fewshot_sep()" in proc.stdout
