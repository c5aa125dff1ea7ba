"""Scripts and benchmarks import the installed package (the project installs it editable): no
``sys.path`` patch puts the repository in front. Adding ``tests/`` for the test doubles is the one
patch left (model_doubles and friends are not a package)."""

from __future__ import annotations

import ast
from pathlib import Path

from repo_paths import REPO


def _sys_path_inserts(path: Path) -> list[str]:
    """The source text of every ``sys.path.insert(...)`` / ``sys.path.append(...)`` argument list."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("insert", "append") and ast.unparse(node.func.value) == "sys.path"):
            found.append(ast.unparse(node.args[-1]))
    return found


def test_no_script_or_benchmark_puts_the_repository_on_sys_path():
    offenders = {}
    for folder in ("scripts", "benchmarks"):
        for path in sorted((REPO / folder).glob("*.py")):
            patched = [arg for arg in _sys_path_inserts(path) if arg != "str(REPO / 'tests')"]
            if patched:
                offenders[f"{folder}/{path.name}"] = patched
    assert not offenders, f"sys.path patches (import fewshot_sep from the installed package): {offenders}"


def test_the_check_sees_a_patch(tmp_path):
    script = tmp_path / "x.py"
    script.write_text("import sys\nsys.path.insert(0, str(REPO))\nsys.path.append(str(REPO / 'tests'))\n")
    assert _sys_path_inserts(script) == ["str(REPO)", "str(REPO / 'tests')"]
