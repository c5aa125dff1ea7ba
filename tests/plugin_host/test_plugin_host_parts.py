"""plugin_host's three parts: plugin (and chains) at the bottom, files and live above it, apart.

The layering test (test_layering.py) checks the package's layers; this one checks the
parts inside the hosts layer (every import, function-level ones too, TYPE_CHECKING aside),
and that the modules' earlier flat names still import as the same module objects.
"""

from __future__ import annotations

import importlib

import pytest

from package_imports import import_graph

#: part -> the parts its modules may import.
ALLOWED = {"plugin": {"plugin"}, "files": {"files", "plugin"}, "live": {"live", "plugin"}}


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[:2] == ["fewshot_sep", "plugin_host"] else None


def test_parts_import_only_the_parts_below_them():
    graph, _ = import_graph()
    wrong = []
    for module, imports in graph.items():
        part = _part(module)
        if part is None:
            continue
        for imported, line in imports:
            other = _part(imported)
            if imported.startswith("fewshot_sep.plugin_host") and other not in ALLOWED[part]:
                wrong.append(f"{module}:{line} imports {imported}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("old", sorted(importlib.import_module("fewshot_sep.plugin_host").MOVED))
def test_earlier_module_names_import_the_moved_modules(old):
    from fewshot_sep import plugin_host

    module = importlib.import_module(f"fewshot_sep.plugin_host.{old}")
    new = importlib.import_module(f"fewshot_sep.plugin_host.{plugin_host.MOVED[old]}")
    assert module is new
    assert module.__spec__.name == new.__name__  # the module keeps its own spec
