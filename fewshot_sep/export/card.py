"""The model card (``model_card.json``) written beside the exported graphs.

The format, its checks and the model id belong to :mod:`fewshot_sep.contract.card`
(shared with the run time's reader); this module fills the card in from a run
(clip lengths from its config, the versions of the packages that made the graphs)
and writes it as text.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Sequence

from fewshot_sep import __version__
from fewshot_sep.contract.card import (  # noqa: F401 - re-exported: the exporter's names
    CARD_NAME,
    ENCODER_FILE,
    FORMAT_VERSION,
    SEPARATOR_FILE,
    model_id_of,
)
from fewshot_sep.contract.card import build_card as _build_card
from fewshot_sep.contract.signal import WINDOW, latency_samples  # noqa: F401 - re-exported
from fewshot_sep.utils.errors import UserError

DEFAULT_CLIP_SECONDS = 3.0
DEFAULT_MIN_CLIP_SECONDS = 1.0


def _lookup(config: dict[str, Any], key: str, sections: Sequence[str]) -> Any:
    for section in sections:
        part = config.get(section) if section else config
        if isinstance(part, dict) and key in part:
            return part[key]
    return None


def clip_lengths(config: dict[str, Any]) -> tuple[float, float]:
    """``(clip_seconds, min_clip_seconds)`` for the card, from the run config.

    ``clip_seconds`` is the length of the clips the encoder was trained on
    (``data.support_seconds``), else a ``clip_seconds`` in the model/data
    section, else 3.0; ``min_clip_seconds`` is given explicitly or
    ``min(1.0, clip_seconds)``.
    """
    def number(value: Any) -> float | None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
        return float(value) if ok else None

    clip = number(_lookup(config, "support_seconds", ("data",)))
    if clip is None:
        clip = number(_lookup(config, "clip_seconds", ("model", "data", "")))
    clip = DEFAULT_CLIP_SECONDS if clip is None else clip
    min_clip = number(_lookup(config, "min_clip_seconds", ("model", "data", "")))
    min_clip = min(DEFAULT_MIN_CLIP_SECONDS, clip) if min_clip is None else min_clip
    if min_clip > clip:
        raise UserError(f"config clip lengths are inconsistent: min_clip_seconds {min_clip} > clip_seconds {clip}")
    return clip, min_clip


def build_card(*, model_id: str, name: str, sample_rate: int, n_fft: int, hop: int, lookahead_frames: int,
               embedding_dim: int, state_shapes: Sequence[Sequence[int | None]], clip_seconds: float,
               min_clip_seconds: float, opset: int, training: dict[str, Any],
               baked: Sequence[dict[str, Any]] = (), verification: dict[str, Any] | None = None,
               input_planes: int = 1) -> dict[str, Any]:
    """The card as a plain dict (:func:`fewshot_sep.contract.card.build_card`), with the versions
    of fewshot-sep, torch, onnx and onnxruntime that made it and the ONNX `opset`."""
    import onnx
    import onnxruntime
    import torch

    versions = {
        "fewshot_sep": __version__,
        "torch": torch.__version__.split("+")[0],
        "onnx_opset": int(opset),
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    return _build_card(model_id=model_id, name=name, sample_rate=sample_rate, n_fft=n_fft, hop=hop,
                       lookahead_frames=lookahead_frames, embedding_dim=embedding_dim, state_shapes=state_shapes,
                       clip_seconds=clip_seconds, min_clip_seconds=min_clip_seconds, versions=versions,
                       training=training, baked=baked, verification=verification, input_planes=input_planes)


def card_text(card: dict[str, Any]) -> str:
    """The card as indented JSON, with short number lists (state shapes) kept on one line."""
    text = json.dumps(card, indent=2)

    def one_line(match: re.Match) -> str:
        return "[" + ", ".join(part.strip() for part in match.group(1).split(",")) + "]"

    return re.sub(r"\[((?:\s*(?:-?\d+|null),?)+\s*)\]", one_line, text) + "\n"
