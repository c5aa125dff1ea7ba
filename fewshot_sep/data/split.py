"""The fixed instrument and piece split of DESIGN.md, as code.

- excluded everywhere: GM programs 120-127 (sound effects);
- unseen (evaluation only, split ``"test_unseen"``): programs p < 120 with
  p % 8 in {3, 6}, and drum kits TR-808 (128 + 25) and Brush (128 + 40);
- seen: every other program below 120 and the other drum kits.

Pieces (works) are split by a stable hash of their work id (SHA-256, not
Python's salted ``hash()``): 80 % train, 10 % validation, 10 % test. A stem's
split is ``"excluded"`` or ``"test_unseen"`` by instrument, else its piece's split.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from fewshot_sep.data.gm import DRUM_OFFSET, validate_instrument

Split = Literal["train", "val", "test", "test_unseen", "excluded"]
SPLITS: tuple[str, ...] = ("train", "val", "test", "test_unseen", "excluded")

EXCLUDED_PROGRAMS: frozenset[int] = frozenset(range(120, 128))
UNSEEN_PROGRAMS: frozenset[int] = frozenset(p for p in range(120) if p % 8 in (3, 6))
UNSEEN_KITS: frozenset[int] = frozenset({25, 40})
UNSEEN_INSTRUMENTS: frozenset[int] = UNSEEN_PROGRAMS | frozenset(DRUM_OFFSET + k for k in UNSEEN_KITS)

PIECE_PERCENT = {"train": 80, "val": 10, "test": 10}
"""Share of pieces per split, in percent of the hash range."""


def instrument_status(instrument: int) -> Literal["seen", "unseen", "excluded"]:
    """Whether `instrument` (label as in `fewshot_sep.data.gm`) is seen, unseen or excluded."""
    validate_instrument(instrument)
    if instrument in EXCLUDED_PROGRAMS:
        return "excluded"
    if instrument in UNSEEN_INSTRUMENTS:
        return "unseen"
    return "seen"


def piece_bucket(work_id: str) -> int:
    """Stable bucket 0..99 of a work id (SHA-256 of its UTF-8 bytes)."""
    digest = hashlib.sha256(work_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100


def piece_split(work_id: str) -> Literal["train", "val", "test"]:
    """Split of a piece by its id: ``"train"`` (80 %), ``"val"`` (10 %) or ``"test"`` (10 %)."""
    bucket = piece_bucket(work_id)
    if bucket < PIECE_PERCENT["train"]:
        return "train"
    if bucket < PIECE_PERCENT["train"] + PIECE_PERCENT["val"]:
        return "val"
    return "test"


def split_of(instrument: int, work_id: str) -> Split:
    """Split of the stem of `instrument` in work `work_id`.

    Returns ``"excluded"`` (never used), ``"test_unseen"`` (unseen instrument,
    evaluation only) or the piece split ``"train"`` / ``"val"`` / ``"test"``.
    """
    status = instrument_status(instrument)
    if status == "excluded":
        return "excluded"
    if status == "unseen":
        return "test_unseen"
    return piece_split(work_id)


def is_training_allowed(instrument: int, work_id: str) -> bool:
    """True only for stems that training may read (seen instrument, train piece)."""
    return split_of(instrument, work_id) == "train"
