"""Which class the one-hot baseline is conditioned on for a target instrument.

A class-conditioned model only knows its training classes (the seen
instruments). For a seen target it gets the target's own class. For an unseen
target it gets the **nearest seen class in the same GM family**:

- melodic program p (unseen: p % 8 in {3, 6}): the seen program q with
  ``q // 8 == p // 8`` minimising ``|q - p|``, ties to the lower program
  (both unseen offsets map to p - 1: Contrabass 43 -> Cello 42, Distortion
  Guitar 30 -> Overdriven Guitar 29, Fiddle 110 -> Bagpipe 109: the family,
  not the sound, decides, which is what a class list offers a user);
- drum kit (unseen: TR-808, Brush): the seen kit with the nearest preset
  number, ties to the lower (TR-808 25 -> Electronic 24, Brush 40 -> Jazz 32).

If the baseline's config records its trained classes (``model.classes``), the
candidates are restricted to those (see `onehot_class_for`).

This shows the gap a user of a class-conditioned separator faces with an
instrument it was not trained on: the best it can do is pick a neighbour.
"""

from __future__ import annotations

from typing import Sequence

from fewshot_sep.data.gm import DRUM_KITS, DRUM_OFFSET, is_drum, validate_instrument
from fewshot_sep.data.split import instrument_status


def onehot_class_for(instrument: int, trained: Sequence[int] | None = None) -> int:
    """Instrument label that the one-hot baseline is conditioned on for `instrument`.

    Args:
        instrument: the target's label.
        trained: the labels the baseline was trained on, if known. Then the
            candidates are restricted to them: a seen target missing from the
            training data is treated like an unseen one, and if its family has no
            trained class, the nearest trained label overall is used.

    Raises:
        ValueError: for excluded instruments (GM 120-127), never evaluated, or an empty `trained`.
    """
    validate_instrument(instrument)
    status = instrument_status(instrument)
    if status == "excluded":
        raise ValueError(f"instrument {instrument} is excluded from the evaluation (GM sound effects)")
    allowed = set(trained) if trained is not None else None
    if allowed is not None and not allowed:
        raise ValueError("the baseline has no trained classes")

    def usable(label: int) -> bool:
        return instrument_status(label) == "seen" and (allowed is None or label in allowed)

    if usable(instrument):
        return instrument
    if is_drum(instrument):
        preset = instrument - DRUM_OFFSET
        family = [DRUM_OFFSET + k for k in DRUM_KITS if usable(DRUM_OFFSET + k)]
        key = lambda label: (abs(label - DRUM_OFFSET - preset), label)  # noqa: E731
    else:
        family = [q for q in range(instrument // 8 * 8, instrument // 8 * 8 + 8) if usable(q)]
        key = lambda label: (abs(label - instrument), label)  # noqa: E731
    if family:
        return min(family, key=key)
    pool = sorted(allowed) if allowed is not None else [i for i in range(120) if instrument_status(i) == "seen"]
    return min(pool, key=lambda label: (abs(label - instrument), label))
