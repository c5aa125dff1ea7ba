"""The model card (``model_card.json``): its format, its checks and the model id.

A model folder holds ``separator.onnx``, ``encoder.onnx`` and this card; the
format is documented in docs/internals.md ("Model folder"). The exporter writes
cards with :func:`build_card`; the run time reads them through
``fewshot_sep.realtime.model_files``, which checks them with :func:`validate_card`.
``model_id`` is the first :data:`MODEL_ID_CHARS` hex digits of the sha256 of the
separator's bytes followed by the encoder's (:func:`model_id_of`); presets record
it, so a preset is only used with the model that made it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

from fewshot_sep.contract.conditioning import conditioning_dim
from fewshot_sep.contract.signal import WINDOW, latency_samples
from fewshot_sep.utils.errors import UserError

CARD_NAME = "model_card.json"
SEPARATOR_FILE = "separator.onnx"
#: Magnitude planes a separator graph may read (``separator.input_planes``; absent = 1).
INPUT_PLANES = (1, 2)
ENCODER_FILE = "encoder.onnx"
#: The card format this version writes.
FORMAT_VERSION = 1
#: The card formats this version reads.
SUPPORTED_FORMAT_VERSIONS = (1,)
SUPPORTED_WINDOWS = (WINDOW,)
#: Hex digits of the sha256 kept as the model id.
MODEL_ID_CHARS = 16

#: One separator state: its input name and shape (``None`` = the batch dimension).
StateShape = tuple[str, tuple["int | None", ...]]


def model_id_of(separator_path: str | os.PathLike, encoder_path: str | os.PathLike) -> str:
    """sha256 over the bytes of the separator graph then the encoder graph, hex, first 16 chars."""
    digest = hashlib.sha256()
    for path in (separator_path, encoder_path):
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:MODEL_ID_CHARS]


def build_card(*, model_id: str, name: str, sample_rate: int, n_fft: int, hop: int, lookahead_frames: int,
               embedding_dim: int, state_shapes: Sequence[Sequence[int | None]], clip_seconds: float,
               min_clip_seconds: float, versions: dict[str, Any], training: dict[str, Any],
               baked: Sequence[dict[str, Any]] = (), verification: dict[str, Any] | None = None,
               input_planes: int = 1) -> dict[str, Any]:
    """The card as a plain dict, keys in the order of docs/internals.md.

    Args:
        sample_rate: the model rate in Hz; n_fft, hop: STFT framing in samples.
        lookahead_frames: frames the separator looks ahead (the latency follows from it).
        embedding_dim: ``E``; the card states ``conditioning_dim = 2 E + 1``.
        state_shapes: per separator state, its shape with ``None`` for the batch dimension.
        clip_seconds, min_clip_seconds: example clip lengths the encoder takes (s).
        versions: package versions that made the graphs; training: free-form run summary.
        baked: presets computed at export (optional); verification: the export's own checks.
        input_planes: magnitude planes the separator reads: 1, or 2 for a separator that reads
            each channel of a stereo mix with the other one (written only then; absent = 1).
    """
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
        "conditioning_dim": conditioning_dim(embedding_dim),
        "clip_seconds": float(clip_seconds),
        "min_clip_seconds": float(min_clip_seconds),
        "separator": {
            "file": SEPARATOR_FILE,
            "states": [{"name": f"state_{i}", "shape": [None if d is None else int(d) for d in shape]}
                       for i, shape in enumerate(state_shapes)],
            **({"input_planes": int(input_planes)} if int(input_planes) != 1 else {}),
        },
        "encoder": {"file": ENCODER_FILE},
    }
    if baked:
        card["baked_presets"] = list(baked)
    card["versions"] = dict(versions)
    if verification is not None:
        card["verification"] = verification
    card["training"] = training
    return card


def _require(card: dict, key: str, kind: type | tuple[type, ...], card_path: Path) -> Any:
    if key not in card:
        raise UserError(f"{card_path} lacks the key {key!r} (see docs/internals.md, model card); re-export the model")
    value = card[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UserError(f"{card_path}: {key!r} = {value!r} must be a {names}")
    return value


def _check_signal(card: dict, card_path: Path) -> None:
    """Rate, framing, latency, sizes and clip lengths: present, typed and consistent."""
    sample_rate = _require(card, "sample_rate", int, card_path)
    n_fft = _require(card, "n_fft", int, card_path)
    hop = _require(card, "hop_length", int, card_path)
    window = _require(card, "window", str, card_path)
    lookahead = _require(card, "lookahead_frames", int, card_path)
    latency = _require(card, "latency_samples", int, card_path)
    emb = _require(card, "embedding_dim", int, card_path)
    cond = _require(card, "conditioning_dim", int, card_path)
    clip_s = _require(card, "clip_seconds", (int, float), card_path)
    min_clip_s = _require(card, "min_clip_seconds", (int, float), card_path)
    if sample_rate <= 0:
        raise UserError(f"{card_path}: sample_rate {sample_rate} must be positive")
    if n_fft <= 0 or hop <= 0 or n_fft % hop:
        raise UserError(f"{card_path}: n_fft {n_fft} and hop_length {hop} must be positive with hop dividing n_fft")
    if window not in SUPPORTED_WINDOWS:
        raise UserError(f"{card_path}: window {window!r} is not supported (valid: {SUPPORTED_WINDOWS})")
    if lookahead < 0:
        raise UserError(f"{card_path}: lookahead_frames {lookahead} must be >= 0")
    expected_latency = latency_samples(n_fft, hop, lookahead)
    if latency != expected_latency:
        raise UserError(
            f"{card_path}: latency_samples {latency} disagrees with n_fft - 1 + lookahead_frames * hop_length "
            f"= {expected_latency}; re-export the model"
        )
    if emb <= 0 or cond != conditioning_dim(emb):
        raise UserError(
            f"{card_path}: conditioning_dim {cond} must be 2 * embedding_dim + 1 = {2 * emb + 1} (embedding_dim {emb})"
        )
    if not (0 < min_clip_s <= clip_s):
        raise UserError(f"{card_path}: need 0 < min_clip_seconds ({min_clip_s}) <= clip_seconds ({clip_s})")


def _check_states(raw_states: Any, card_path: Path) -> tuple[StateShape, ...]:
    if not isinstance(raw_states, list):
        raise UserError(f"{card_path}: separator.states must be a list, found {raw_states!r}")
    states = []
    for i, spec in enumerate(raw_states):
        name = spec.get("name") if isinstance(spec, dict) else None
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if name != f"state_{i}":
            raise UserError(f"{card_path}: separator.states[{i}].name is {name!r}, expected 'state_{i}'")
        if (
            not isinstance(shape, list)
            or not shape
            or shape[0] is not None
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape[1:])
        ):
            raise UserError(
                f"{card_path}: separator.states[{i}].shape {shape!r} must be [null, positive ints...] "
                "(null = batch dimension)"
            )
        states.append((name, tuple(shape)))
    return tuple(states)


def validate_card(card: dict, card_path: Path) -> tuple[StateShape, ...]:
    """Check a card read from `card_path`; returns its separator states ``(name, shape)``.

    Raises:
        UserError: a missing or mistyped key, an unsupported format version or window, a
            latency or conditioning size that disagrees with the framing and embedding size,
            bad clip lengths or state specs; the message names the file and what is valid.
    """
    version = _require(card, "format_version", int, card_path)
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise UserError(
            f"{card_path}: format_version {version} is not supported (valid: {SUPPORTED_FORMAT_VERSIONS}); "
            "update fewshot-sep or re-export the model"
        )
    model_id = _require(card, "model_id", str, card_path)
    if not model_id:
        raise UserError(f"{card_path}: model_id is empty")
    _check_signal(card, card_path)
    separator = _require(card, "separator", dict, card_path)
    encoder = _require(card, "encoder", dict, card_path)
    for what, section in (("separator", separator), ("encoder", encoder)):
        if not isinstance(section.get("file"), str) or not section["file"]:
            raise UserError(f"{card_path}: {what}.file must name the ONNX file, found {section.get('file')!r}")
    planes = separator.get("input_planes", 1)
    if not isinstance(planes, int) or isinstance(planes, bool) or planes not in INPUT_PLANES:
        raise UserError(f"{card_path}: separator.input_planes {planes!r} is invalid: use 1 (each channel alone) "
                        "or 2 (each channel with the other one); re-export the model")
    return _check_states(separator.get("states", []), card_path)
