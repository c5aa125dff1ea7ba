"""The `fewshot-sep` entry point: help, version, unknown commands."""

import subprocess
import sys

from fewshot_sep.cli import build_parser, main


def test_help_lists_commands(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "usage: fewshot-sep" in out


def test_version_flag():
    proc = subprocess.run(
        [sys.executable, "-m", "fewshot_sep", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("fewshot-sep ")


def test_every_command_module_registers_a_subcommand():
    import pkgutil

    import fewshot_sep.commands as commands_pkg

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    modules = [m.name for m in pkgutil.iter_modules(commands_pkg.__path__) if not m.name.startswith("_")]
    for name in modules:
        module = __import__(f"fewshot_sep.commands.{name}", fromlist=["register"])
        assert callable(getattr(module, "register", None)), f"commands/{name}.py has no register()"
    assert len(subparsers.choices) >= len(modules)
