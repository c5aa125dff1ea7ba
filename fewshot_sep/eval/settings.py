"""What an evaluation run is: its settings (JSON-serialisable, fingerprinted for resuming),
their validation, and the episode sets they name (`fewshot_sep.eval.harness` runs them)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Iterable

from fewshot_sep.eval.systems import ALL_SYSTEMS, DEFAULT_BLOCK_SIZE
from fewshot_sep.utils.errors import UserError

EVAL_SPLITS = ("test", "test_unseen", "val")
NEGATIVE_CHOICES = ("both", "with", "without")
N_NEGATIVES = 3
# Other instruments per mixture, inclusive: issue 3's protocol for the reported figures
# ("k=5, 2-4 interfering instruments"); DESIGN.md's general protocol allows 1-4.
DEFAULT_INTERFERERS = (2, 4)
MAX_INTERFERERS = 8
SILENT_TARGET_DB = -50.0
"""A target excerpt whose mean power is below this (dBFS) is skipped (status ``silent_target``)."""
SUITES = ("standard", "robust")


@dataclass
class EvalSettings:
    """Everything that determines the episodes and the systems (JSON-serialisable).

    `episodes` is per split (per condition and split in the robust suite). `seconds` is
    the mixture excerpt length, `support_seconds` the length of each support / negative
    clip. `listen` = episodes per split that get audio files on the listening page.
    `suite`: ``standard`` (episodes of `data`'s splits) or ``robust`` (the robustness
    suite's `conditions` on a robust set, `fewshot_sep.eval.robust`).
    """

    data: str
    splits: list[str] = field(default_factory=lambda: ["test", "test_unseen"])
    episodes: int = 100
    seed: int = 0
    ks: list[int] = field(default_factory=lambda: [1, 3, 5, 10])
    negatives: str = "both"
    systems: list[str] = field(default_factory=lambda: [s for s in ALL_SYSTEMS if s not in ("nmf", "fewshot-nmf")])
    checkpoint: str | None = None
    onehot_checkpoint: str | None = None
    model: str | None = None
    seconds: float = 4.0
    support_seconds: float = 3.0
    interferers: list[int] = field(default_factory=lambda: list(DEFAULT_INTERFERERS))
    block_size: int = DEFAULT_BLOCK_SIZE
    stream_conditions: str = "reference"
    listen: int = 2
    suite: str = "standard"
    conditions: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """Hash of all settings: a run resumes only from a partial file with the same hash."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def episode_sets(self) -> list[str]:
        """Names of the episode sets: the splits, or ``condition:split`` in the robust suite
        (drum-kit conditions have no unseen split: both unseen kits are left out of the held-out sources)."""
        if self.suite != "robust":
            return list(self.splits)
        return [f"{c}:{split}" for c in self.conditions for split in self.splits
                if not (c.endswith("drums") and split == "test_unseen")]

    def negative_modes(self) -> list[str]:
        return {"both": ["without", "with"], "with": ["with"], "without": ["without"]}[self.negatives]

    def reference_condition(self) -> tuple[int, str]:
        """(k, negatives) of the streaming system (by default) and of the listening page."""
        k = 5 if 5 in self.ks else max(self.ks)
        modes = self.negative_modes()
        return k, ("without" if "without" in modes else "with")


def validate_settings(s: EvalSettings) -> None:
    """Raise `UserError` naming any invalid value and what is valid."""
    bad = [x for x in s.splits if x not in EVAL_SPLITS]
    if bad or not s.splits:
        raise UserError(f"--split {' '.join(bad) or '(none)'} is invalid: choose from {' '.join(EVAL_SPLITS)}")
    if s.episodes < 1:
        raise UserError(f"--episodes {s.episodes} is invalid: use 1 or more (episodes per split)")
    if not s.ks or any(k < 1 or k > 50 for k in s.ks):
        raise UserError(f"--k {' '.join(map(str, s.ks))} is invalid: give shot counts between 1 and 50, e.g. --k 1 3 5 10")
    if s.negatives not in NEGATIVE_CHOICES:
        raise UserError(f"--negatives {s.negatives} is invalid: use one of {', '.join(NEGATIVE_CHOICES)}")
    bad = [x for x in s.systems if x not in ALL_SYSTEMS]
    if bad or not s.systems:
        raise UserError(f"--systems {' '.join(bad) or '(none)'} is invalid: choose from {' '.join(ALL_SYSTEMS)}")
    if "fewshot-nmf" in s.systems and not {"fewshot-onnx", "nmf"} <= set(s.systems):
        raise UserError("--systems fewshot-nmf needs fewshot-onnx and nmf too (it averages their masks): "
                        "add them to --systems")
    low, high = (list(s.interferers) + [0, 0])[:2]
    if len(s.interferers) != 2 or not (1 <= low <= high <= MAX_INTERFERERS):
        raise UserError(f"--interferers {' '.join(map(str, s.interferers))} is invalid: give LOW HIGH with "
                        f"1 <= LOW <= HIGH <= {MAX_INTERFERERS} (other instruments per mixture), e.g. --interferers 2 4")
    if not (0.5 <= s.seconds <= 60):
        raise UserError(f"--seconds {s.seconds} is invalid: use 0.5..60 (mixture excerpt length)")
    if s.block_size < 1 or s.block_size > 8192:
        raise UserError(f"--block-size {s.block_size} is invalid: use 1..8192 samples")
    if s.stream_conditions not in ("reference", "all"):
        raise UserError(f"--stream-conditions {s.stream_conditions} is invalid: use reference or all")
    if s.listen < 0:
        raise UserError(f"--listen {s.listen} is invalid: use 0 or more")
    if s.suite not in SUITES:
        raise UserError(f"--suite {s.suite} is invalid: use one of {', '.join(SUITES)}")
    if s.suite == "robust":
        from fewshot_sep.eval.robust import validate_conditions

        validate_conditions(s.conditions)
        if "val" in s.splits:
            raise UserError("--split val is invalid with --suite robust: the robust set is test material only "
                            "(use test test_unseen)")


def settings_from_json(text: str) -> EvalSettings:
    """Inverse of ``json.dumps(asdict(settings))``."""
    return EvalSettings(**json.loads(text))


def iter_episode_ids(settings: EvalSettings) -> Iterable[str]:
    """The episode ids of a run, in order (``split/NNNN``)."""
    for split in settings.episode_sets():
        for i in range(settings.episodes):
            yield f"{split}/{i:04d}"
