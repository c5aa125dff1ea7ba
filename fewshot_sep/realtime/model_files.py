"""Locate and validate a model folder (separator.onnx, encoder.onnx, model_card.json).

The card format and its checks belong to :mod:`fewshot_sep.contract.card` (docs/internals.md,
"Model folder"); this module finds the folder and its files. ``ModelFiles.load(None)`` finds
the packaged model ``fewshot_sep/assets/model/``; the environment variable
``FEWSHOT_SEP_MODEL`` overrides that default. Every problem is a ``UserError``
that names the file, the offending value and what is valid.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fewshot_sep.contract.card import CARD_NAME, SUPPORTED_FORMAT_VERSIONS, SUPPORTED_WINDOWS  # noqa: F401
from fewshot_sep.contract.card import model_id_of, validate_card
from fewshot_sep.utils.errors import UserError

ENV_VAR = "FEWSHOT_SEP_MODEL"


def packaged_model_dir() -> Path:
    """The folder of the model shipped inside the package (may not exist in a dev tree)."""
    return Path(__file__).resolve().parent.parent / "assets" / "model"


def default_model_dir() -> Path:
    """``$FEWSHOT_SEP_MODEL`` if set, else the packaged model folder."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else packaged_model_dir()


def compute_model_id(separator_path: Path, encoder_path: Path) -> str:
    """sha256 of separator.onnx + encoder.onnx bytes, hex, first 16 chars (:func:`fewshot_sep.contract.model_id_of`)."""
    return model_id_of(separator_path, encoder_path)


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
    def input_planes(self) -> int:
        """Magnitude planes the separator graph reads: 1 (a channel), or 2 (a channel, then the
        other channel of the same stereo signal)."""
        return int(self.card["separator"].get("input_planes", 1))

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


def _validate_card(card: dict, card_path: Path) -> tuple[StateSpec, ...]:
    """The card's separator states, after :func:`fewshot_sep.contract.card.validate_card` accepted it."""
    return tuple(StateSpec(name=name, shape=shape) for name, shape in validate_card(card, card_path))
