"""The package's import graph, read from its source (AST), function-level imports included.

Used by the layering test (repo/test_layering.py) and the plugin_host parts test
(plugin_host/test_plugin_host_parts.py). Every ``import`` statement counts, at module level or
inside a function, except those under ``if TYPE_CHECKING:`` (they never run); imports through
``importlib`` are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

from repo_paths import REPO

PACKAGE = REPO / "fewshot_sep"


def module_names(root: Path = PACKAGE) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runnable_imports(tree: ast.AST):
    """Import nodes that can run: module level and inside functions, not under ``if TYPE_CHECKING``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _runnable_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _runnable_imports(node)


def imports_of(module: str, source: str, is_package: bool, known: set[str]) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every runnable import in `source`.

    ``from a.b import c`` counts as importing ``a.b.c`` when that is a module of the package
    (`known`), else ``a.b``; relative imports are resolved against `module`.
    """
    found = []
    for node in _runnable_imports(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            anchor = module.split(".")
            anchor = anchor if is_package else anchor[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            full = f"{base}.{alias.name}"
            found.append((full if full in known else base, node.lineno))
    return found


def import_graph(root: Path = PACKAGE) -> tuple[dict[str, list[tuple[str, int]]], dict[str, Path]]:
    """``({module: [(imported, line), ...]}, {module: file})`` over the whole package."""
    files = module_names(root)
    known = set(files)
    graph = {m: imports_of(m, p.read_text(encoding="utf-8"), p.name == "__init__.py", known)
             for m, p in files.items()}
    return graph, files
