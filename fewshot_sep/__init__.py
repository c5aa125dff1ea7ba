"""fewshot-sep: few-shot music source separation for DAW chains and live use.

Two columns that meet only at small torch-free contracts (tests/test_layering.py checks
them, imports inside functions included; each layer imports only what is below it):

    run time (no torch):  cli producer commands -> plugin_host (files, live -> plugin)
                          -> presets -> realtime
    training (torch):     cli train/evaluate/export/data/compare -> eval, export -> train
                          -> runs -> model; data (the training side also uses realtime, its CLI presets)
    shared floor:         contract (rate, framing, latency, modes, card format), utils

``from fewshot_sep import FewShotSeparator, Chain``: the processors, imported on first
use (so ``import fewshot_sep`` and the CLI's start stay light).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "FewShotSeparator": "fewshot_sep.plugin_host.plugin.separator",
    "Chain": "fewshot_sep.plugin_host.plugin.chain",
}
__all__ = ["FewShotSeparator", "Chain", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fewshot_sep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
