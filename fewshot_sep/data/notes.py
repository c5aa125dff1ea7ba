"""Note-list containers shared by the MIDI sources and the renderer.

A part is a list of notes for one instrument; a work is a set of parts that
share a time axis (seconds from the work's time 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Part:
    """One instrument's notes.

    `notes` is float64 ``[n_notes, 4]``: columns start (s), end (s), MIDI pitch,
    velocity (1..127). For drum kits the pitch is the GM percussion key.
    """

    instrument: int
    role: str
    notes: np.ndarray
    name: str = ""

    def __post_init__(self) -> None:
        self.notes = np.asarray(self.notes, dtype=np.float64).reshape(-1, 4)

    @property
    def end_s(self) -> float:
        """Time of the last note-off in seconds (0 for an empty part)."""
        return float(self.notes[:, 1].max()) if len(self.notes) else 0.0


@dataclass
class Work:
    """A multi-part piece: parts share tempo/harmony and the time axis."""

    work_id: str
    source: str
    parts: list[Part] = field(default_factory=list)

    @property
    def end_s(self) -> float:
        """Time of the last note-off over all parts, in seconds."""
        return max((p.end_s for p in self.parts), default=0.0)
