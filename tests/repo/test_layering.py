"""The package's layering, checked on the source (AST), function-level imports included.

Two columns meet only at the shared floor: the picture is in the package docstring
(``fewshot_sep/__init__.py``), README and docs/internals.md (tests/repo/test_layering_picture.py
keeps the three the same); what this file checks:

- every import points down its column or to the shared floor (``ALLOWED``);
- the run-time column and the shared floor never import a torch-side package nor a
  training-only third-party package (``packaging/standalone_policy.py``);
- the training side may use the run-time engine, never the hosts or the CLI;
- no import circle between modules.

Every ``import`` statement counts, at module level or inside a function, except those under
``if TYPE_CHECKING:`` (they never run). Imports through ``importlib`` are not seen.
"""

from __future__ import annotations

import sys

import pytest

from package_imports import import_graph, imports_of
from repo_paths import REPO

TRAINING_COMMANDS = ("train", "evaluate", "export", "data", "compare", "validate_checkpoints")

#: layer -> the layers its modules may import.
ALLOWED: dict[str, frozenset[str]] = {
    "shared": frozenset({"shared"}),
    "runtime": frozenset({"runtime", "shared"}),
    "presets": frozenset({"presets", "runtime", "shared"}),
    "hosts": frozenset({"hosts", "presets", "runtime", "shared"}),
    "cli": frozenset({"cli", "hosts", "presets", "runtime", "shared"}),
    "model": frozenset({"model", "shared"}),
    "data": frozenset({"data", "shared"}),
    "runs": frozenset({"runs", "model", "shared"}),
    "train": frozenset({"train", "runs", "model", "data", "runtime", "shared"}),
    "eval": frozenset({"eval", "runs", "model", "data", "runtime", "shared"}),
    "export": frozenset({"export", "runs", "model", "runtime", "shared"}),
    "training-cli": frozenset({"training-cli", "eval", "export", "train", "runs", "model", "data",
                               "presets", "runtime", "shared"}),
}
RUN_TIME_LAYERS = frozenset({"shared", "runtime", "presets", "hosts", "cli"})
TORCH_SIDE_LAYERS = frozenset({"model", "data", "runs", "train", "eval", "export", "training-cli"})
_PACKAGE_LAYERS = {
    "contract": "shared", "utils": "shared", "realtime": "runtime", "presets": "presets",
    "plugin_host": "hosts", "model": "model", "data": "data", "runs": "runs", "train": "train",
    "eval": "eval", "export": "export",
}


def layer_of(module: str) -> str:
    """The layer of a ``fewshot_sep`` module (KeyError for a package no layer owns)."""
    parts = module.split(".")
    if parts == ["fewshot_sep"]:
        return "shared"  # the package's face: __version__ (its lazy names go through importlib)
    if parts[1] in ("cli", "__main__"):
        return "cli"
    if parts[1] == "commands":
        return "training-cli" if len(parts) > 2 and parts[2] in TRAINING_COMMANDS else "cli"
    return _PACKAGE_LAYERS[parts[1]]


def _training_only_third_party() -> tuple[str, ...]:
    sys.path.insert(0, str(REPO / "packaging"))
    try:
        from standalone_policy import TRAINING_ONLY_THIRD_PARTY
    finally:
        sys.path.remove(str(REPO / "packaging"))
    return TRAINING_ONLY_THIRD_PARTY


def layering_problems(graph: dict[str, list[tuple[str, int]]], forbidden_third_party: tuple[str, ...]) -> list[str]:
    """Every import that breaks ALLOWED or brings a training-only package into the run-time column."""
    problems = []
    for module, imported in sorted(graph.items()):
        layer = layer_of(module)
        for target, line in imported:
            top = target.split(".")[0]
            if top == "fewshot_sep":
                target_layer = layer_of(target)
                if target_layer not in ALLOWED[layer]:
                    problems.append(f"{module}:{line} ({layer}) imports {target} ({target_layer})")
            elif layer in RUN_TIME_LAYERS and top in forbidden_third_party:
                problems.append(f"{module}:{line} ({layer}, run time) imports {target}, a training-only package")
    return list(dict.fromkeys(problems))


def import_circles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (or a module importing itself), Tarjan."""
    edges = {m: sorted({t for t, _ in imported if t in graph}) for m, imported in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges[node]:
                circles.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return circles


@pytest.fixture(scope="module")
def graph():
    return import_graph()[0]


def test_every_module_has_a_layer(graph):
    unowned = []
    for module in graph:
        try:
            layer_of(module)
        except KeyError:
            unowned.append(module)
    assert not unowned, f"modules of no layer (add their package to the layering): {unowned}"


def test_imports_follow_the_layers(graph):
    problems = layering_problems(graph, _training_only_third_party())
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_no_import_circles(graph):
    circles = import_circles(graph)
    assert not circles, f"import circles: {circles}"


def test_run_time_column_never_reaches_the_torch_side(graph):
    """Transitively, from every run-time module: no torch-side module, no torch."""
    forbidden = _training_only_third_party()
    for start in (m for m in graph if layer_of(m) in RUN_TIME_LAYERS):
        seen, todo = {start}, [start]
        while todo:
            for target, _ in graph[todo.pop()]:
                assert target.split(".")[0] not in forbidden, f"{start} reaches {target}"
                if target in graph and target not in seen:
                    assert layer_of(target) not in TORCH_SIDE_LAYERS, f"{start} reaches {target}"
                    seen.add(target)
                    todo.append(target)


# -- the checker itself finds what it is meant to find ---------------------------------------

def _graph_of(sources: dict[str, str]) -> dict[str, list[tuple[str, int]]]:
    known = set(sources)
    return {m: imports_of(m, s, False, known) for m, s in sources.items()}


def test_checker_sees_function_level_and_relative_imports():
    graph = _graph_of({
        "fewshot_sep.realtime.a": "def f():\n    import torch\n    from fewshot_sep.train import loop\n",
        "fewshot_sep.realtime.b": "from . import a\n",
        "fewshot_sep.train": "",
    })
    problems = layering_problems(graph, ("torch",))
    assert any("imports torch" in p for p in problems)
    assert any("imports fewshot_sep.train (train)" in p for p in problems)
    assert ("fewshot_sep.realtime.a", 1) in graph["fewshot_sep.realtime.b"]


def test_checker_skips_type_checking_imports_only():
    graph = _graph_of({"fewshot_sep.realtime.a": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\nelse:\n    import onnx\n")})
    assert [t for t, _ in graph["fewshot_sep.realtime.a"]] == ["typing", "onnx"]


def test_checker_finds_hidden_circles_and_upward_imports():
    graph = _graph_of({
        "fewshot_sep.presets.resolve": "def g():\n    from fewshot_sep.presets.build import load_model\n",
        "fewshot_sep.presets.build": "from fewshot_sep.presets.resolve import check_model\n",
        "fewshot_sep.model.x": "from fewshot_sep.plugin_host import chain\n",
        "fewshot_sep.plugin_host": "",
    })
    assert import_circles(graph) == [["fewshot_sep.presets.build", "fewshot_sep.presets.resolve"]]
    assert any("fewshot_sep.model.x" in p and "(hosts)" in p for p in layering_problems(graph, ()))
