"""Locate and validate a model folder (separator.onnx, encoder.onnx, model_card.json).

The card format is fixed in docs/internals.md. ``ModelFiles.load(None)`` finds
the packaged model ``fewshot_sep/assets/model/``; the environment variable
``FEWSHOT_SEP_MODEL`` overrides that default. Every problem is a ``UserError``
that names the file, the offending value and what is valid.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fewshot_sep.utils.errors import UserError

ENV_VAR = "FEWSHOT_SEP_MODEL"
CARD_NAME = "model_card.json"
SUPPORTED_FORMAT_VERSIONS = (1,)
SUPPORTED_WINDOWS = ("hann_periodic",)


def packaged_model_dir() -> Path:
    """The folder of the model shipped inside the package (may not exist in a dev tree)."""
    return Path(__file__).resolve().parent.parent / "assets" / "model"


def default_model_dir() -> Path:
    """``$FEWSHOT_SEP_MODEL`` if set, else the packaged model folder."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else packaged_model_dir()


def compute_model_id(separator_path: Path, encoder_path: Path) -> str:
    """sha256 of separator.onnx + encoder.onnx bytes, hex, first 16 chars."""
    digest = hashlib.sha256()
    for path in (separator_path, encoder_path):
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class StateSpec:
    """One separator state: its input name and shape (``None`` = batch dimension)."""

    name: str
    shape: tuple[int | None, ...]

    def concrete_shape(self, batch: int) -> tuple[int, ...]:
        """The shape with the batch dimension filled in."""
        return tuple(batch if d is None else d for d in self.shape)


@dataclass(frozen=True)
class ModelFiles:
    """A validated model folder. Use :meth:`load`."""

    folder: Path
    card: dict = field(repr=False)
    separator_path: Path
    encoder_path: Path
    states: tuple[StateSpec, ...]

    @property
    def model_id(self) -> str:
        return str(self.card["model_id"])

    @property
    def name(self) -> str:
        return str(self.card.get("name", self.folder.name))

    @property
    def sample_rate(self) -> int:
        return int(self.card["sample_rate"])

    @property
    def n_fft(self) -> int:
        return int(self.card["n_fft"])

    @property
    def hop_length(self) -> int:
        return int(self.card["hop_length"])

    @property
    def lookahead_frames(self) -> int:
        return int(self.card["lookahead_frames"])

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency at the model rate (no resampling)."""
        return int(self.card["latency_samples"])

    @property
    def embedding_dim(self) -> int:
        return int(self.card["embedding_dim"])

    @property
    def conditioning_dim(self) -> int:
        return int(self.card["conditioning_dim"])

    @property
    def clip_seconds(self) -> float:
        return float(self.card["clip_seconds"])

    @property
    def min_clip_seconds(self) -> float:
        return float(self.card["min_clip_seconds"])

    @classmethod
    def load(cls, path: str | os.PathLike | "ModelFiles" | None = None, verify_id: bool = True) -> "ModelFiles":
        """Load and validate a model folder.

        Args:
            path: the folder (or its ``model_card.json``); ``None`` = ``$FEWSHOT_SEP_MODEL``
                or the packaged model. A ``ModelFiles`` is returned unchanged.
            verify_id: recompute the content hash and compare with the card's ``model_id``
                (catches a card copied next to other ONNX files).

        Raises:
            UserError: missing folder/files, unreadable or inconsistent card.
        """
        if isinstance(path, ModelFiles):
            return path
        if path is None:
            folder = default_model_dir()
            origin = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "the packaged model"
            if not folder.is_dir():
                hint = (
                    f"set {ENV_VAR} to an existing model folder"
                    if os.environ.get(ENV_VAR)
                    else f"export a model into it (fewshot-sep export) or pass a model folder / set {ENV_VAR}"
                )
                raise UserError(f"model folder {folder} ({origin}) does not exist: {hint}")
        else:
            folder = Path(path).expanduser()
            if folder.is_file() and folder.name == CARD_NAME:
                folder = folder.parent
            if not folder.is_dir():
                raise UserError(
                    f"model folder {folder} does not exist: pass a folder holding "
                    f"separator.onnx, encoder.onnx and {CARD_NAME}"
                )
        card_path = folder / CARD_NAME
        if not card_path.is_file():
            raise UserError(f"{card_path} is missing: a model folder needs {CARD_NAME} beside the ONNX files")
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"cannot read {card_path}: {exc}; re-export the model (fewshot-sep export)") from exc
        if not isinstance(card, dict):
            raise UserError(f"{card_path} must hold a JSON object, found {type(card).__name__}")
        states = _validate_card(card, card_path)
        separator_path = folder / card["separator"]["file"]
        encoder_path = folder / card["encoder"]["file"]
        for what, p in (("separator", separator_path), ("encoder", encoder_path)):
            if not p.is_file():
                raise UserError(f"{what} graph {p} named in {card_path} is missing: re-export the model")
        if verify_id:
            actual = compute_model_id(separator_path, encoder_path)
            if actual != card["model_id"]:
                raise UserError(
                    f"model_id {card['model_id']!r} in {card_path} does not match the ONNX files "
                    f"(their hash is {actual!r}): the card belongs to other files; re-export the model"
                )
        return cls(folder=folder, card=card, separator_path=separator_path, encoder_path=encoder_path, states=states)


def _require(card: dict, key: str, kind: type | tuple[type, ...], card_path: Path) -> Any:
    if key not in card:
        raise UserError(f"{card_path} lacks the key {key!r} (see docs/internals.md, model card); re-export the model")
    value = card[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UserError(f"{card_path}: {key!r} = {value!r} must be a {names}")
    return value


def _validate_card(card: dict, card_path: Path) -> tuple[StateSpec, ...]:
    version = _require(card, "format_version", int, card_path)
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise UserError(
            f"{card_path}: format_version {version} is not supported (valid: {SUPPORTED_FORMAT_VERSIONS}); "
            "update fewshot-sep or re-export the model"
        )
    model_id = _require(card, "model_id", str, card_path)
    if not model_id:
        raise UserError(f"{card_path}: model_id is empty")
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
    expected_latency = n_fft - 1 + lookahead * hop
    if latency != expected_latency:
        raise UserError(
            f"{card_path}: latency_samples {latency} disagrees with n_fft - 1 + lookahead_frames * hop_length "
            f"= {expected_latency}; re-export the model"
        )
    if emb <= 0 or cond != 2 * emb + 1:
        raise UserError(
            f"{card_path}: conditioning_dim {cond} must be 2 * embedding_dim + 1 = {2 * emb + 1} (embedding_dim {emb})"
        )
    if not (0 < min_clip_s <= clip_s):
        raise UserError(f"{card_path}: need 0 < min_clip_seconds ({min_clip_s}) <= clip_seconds ({clip_s})")
    separator = _require(card, "separator", dict, card_path)
    encoder = _require(card, "encoder", dict, card_path)
    for what, section in (("separator", separator), ("encoder", encoder)):
        if not isinstance(section.get("file"), str) or not section["file"]:
            raise UserError(f"{card_path}: {what}.file must name the ONNX file, found {section.get('file')!r}")
    raw_states = separator.get("states", [])
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
        states.append(StateSpec(name=name, shape=tuple(shape)))
    return tuple(states)
