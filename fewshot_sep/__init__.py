"""fewshot-sep: few-shot music source separation for DAW chains and live use.

Two columns that meet only at small torch-free contracts; tests/repo/test_layering.py checks
every import (inside functions too), and this picture is the same in README.md and
docs/internals.md (tests/repo/test_layering_picture.py):

    run time (no torch)                      training side (torch: the `train` extra)
      cli: separate, preset, live, ...         cli: train, evaluate, export, data, compare
      plugin_host: files, live -> plugin       train, eval, export
      presets                                  runs (checkpoints, run folders)
      realtime (engine, model files)           model                data
      ------------------- shared floor: contract, utils -------------------
    Each layer imports the layers below it in its column and the floor; runs and
    export never import data; train, eval and export also use realtime, the
    training cli also presets. Nothing else crosses: no torch-side import at run
    time, and the training side never imports plugin_host or the run-time cli.

``from fewshot_sep import FewShotSeparator, Chain, save_chain, load_chain``: the
processors and chain files, imported on first use (so ``import fewshot_sep`` and the
CLI's start stay light).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "FewShotSeparator": "fewshot_sep.plugin_host.plugin.separator",
    "Chain": "fewshot_sep.plugin_host.plugin.chain",
    "save_chain": "fewshot_sep.plugin_host.plugin.chain_file",
    "load_chain": "fewshot_sep.plugin_host.plugin.chain_file",
}
__all__ = ["FewShotSeparator", "Chain", "save_chain", "load_chain", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fewshot_sep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
