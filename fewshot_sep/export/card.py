"""The model card (``model_card.json``) written beside the exported graphs.

The format is fixed in docs/internals.md ("Model folder"); this module only
fills it in. ``model_id`` is the first 16 hex digits of the sha256 of
``separator.onnx`` followed by ``encoder.onnx`` (the same rule as
``fewshot_sep.realtime.model_files.compute_model_id``, re-implemented here
because ``export`` sits below ``realtime`` in the layering).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Sequence

from fewshot_sep import __version__
from fewshot_sep.utils.errors import UserError

CARD_NAME = "model_card.json"
SEPARATOR_FILE = "separator.onnx"
ENCODER_FILE = "encoder.onnx"
FORMAT_VERSION = 1
WINDOW = "hann_periodic"
DEFAULT_CLIP_SECONDS = 3.0
DEFAULT_MIN_CLIP_SECONDS = 1.0


def model_id_of(separator_path: str | Path, encoder_path: str | Path) -> str:
    """sha256 over the bytes of ``separator.onnx`` then ``encoder.onnx``, hex, first 16 chars."""
    digest = hashlib.sha256()
    for path in (separator_path, encoder_path):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def latency_samples(n_fft: int, hop: int, lookahead_frames: int) -> int:
    """Algorithmic latency ``n_fft - 1 + lookahead_frames * hop`` in samples at the model rate."""
    return n_fft - 1 + lookahead_frames * hop


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
               baked: Sequence[dict[str, Any]] = (), verification: dict[str, Any] | None = None) -> dict[str, Any]:
    """The card as a plain dict (key order as in docs/internals.md)."""
    import onnx
    import onnxruntime
    import torch

    card: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model_id": model_id,
        "name": name,
        "sample_rate": int(sample_rate),
        "n_fft": int(n_fft),
        "hop_length": int(hop),
        "window": WINDOW,
        "lookahead_frames": int(lookahead_frames),
        "latency_samples": latency_samples(n_fft, hop, lookahead_frames),
        "embedding_dim": int(embedding_dim),
        "conditioning_dim": 2 * int(embedding_dim) + 1,
        "clip_seconds": float(clip_seconds),
        "min_clip_seconds": float(min_clip_seconds),
        "separator": {
            "file": SEPARATOR_FILE,
            "states": [{"name": f"state_{i}", "shape": [None if d is None else int(d) for d in shape]}
                       for i, shape in enumerate(state_shapes)],
        },
        "encoder": {"file": ENCODER_FILE},
    }
    if baked:
        card["baked_presets"] = list(baked)
    card["versions"] = {
        "fewshot_sep": __version__,
        "torch": torch.__version__.split("+")[0],
        "onnx_opset": int(opset),
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    if verification is not None:
        card["verification"] = verification
    card["training"] = training
    return card


def card_text(card: dict[str, Any]) -> str:
    """The card as indented JSON, with short number lists (state shapes) kept on one line."""
    text = json.dumps(card, indent=2)

    def one_line(match: re.Match) -> str:
        return "[" + ", ".join(part.strip() for part in match.group(1).split(",")) + "]"

    return re.sub(r"\[((?:\s*(?:-?\d+|null),?)+\s*)\]", one_line, text) + "\n"
