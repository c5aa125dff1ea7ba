"""fewshot-sep: few-shot music source separation for DAW chains and live use.

Layers (imports only point downward; see DESIGN.md):
cli -> plugin_host -> presets -> realtime -> export -> train/eval -> model -> data.
`realtime`, `presets`, `plugin_host` and the producer-facing CLI import no torch.

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
