"""The robustness suite: episodes like a producer's music, one factor at a time and all together.

Drawn from the robust test set (`fewshot_sep.data.robust_set`, test-only
music rendered with a training source and with held-out sources). Each
condition changes one factor against the in-domain column, and ``robust``
changes them all (DESIGN.md, evaluation protocol):

| condition | sources | music | effects + bus | others | examples |
|---|---|---|---|---|---|
| ``in-domain`` | training (FluidR3) | training generator | dry | 2-4 | matched |
| ``source`` | held-out | training generator | dry | 2-4 | matched |
| ``effects`` | training | training generator | yes | 2-4 | matched |
| ``music`` | training | held-out (textures, held-out composers) | dry | 2-4 | matched |
| ``density`` | training | training generator | dry | 2-6 at -10..+5 dB | matched |
| ``confusable`` | training | training generator | dry | 2-4, one of the target's family | matched |
| ``robust`` | held-out | held-out | yes | 2-4 | matched |
| ``robust-generic`` | held-out | held-out | yes | 2-4 | generic |
| ``robust-drums`` | held-out | held-out | yes | 2-4 | matched |

Every condition but ``robust-drums`` draws pitched targets only (drum kits
lift medians, so they are reported apart). "Matched" examples are clips of the
target's instrument and source from other pieces, through the same effect
chain as the target (takes from the same session); "generic" examples are dry
clips of the instrument from the training source (what a producer without
session takes would give). Negatives are clips of an instrument in the mix,
processed like it. With effects, mixtures are stereo ``[2, n]``; the
separators run on each channel, as the product does, and metrics use both
channels. The first `PREROLL_S` of each drawn excerpt only feeds the effects'
tails and is cut before scoring.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from fewshot_sep.contract.signal import SAMPLE_RATE
from fewshot_sep.data.episodes import Episode, EpisodeConfig, EpisodeSampler
from fewshot_sep.data.gm import DRUM_KITS, DRUM_OFFSET, family_of
from fewshot_sep.utils.errors import UserError

HELDOUT = ("freepats", "avldrums-blackpearl", "avldrums-redzeppelin")
TRAINING = ("fluidr3",)
IN_DOMAIN_MUSIC = ("generator",)
HELDOUT_MUSIC = ("texture", "music21-heldout")
PITCHED = tuple(range(120))
KITS = tuple(DRUM_OFFSET + k for k in DRUM_KITS)
PREROLL_S = 1.0
CONFUSABLE_ATTEMPTS = 19
CONFUSABLE_STRIDE = 100_003
"""A confusable episode whose target has no family mate in the data is redrawn as episode
``index + attempt * CONFUSABLE_STRIDE``, attempt 1..`CONFUSABLE_ATTEMPTS` (20 draws in all);
one still without a mate gets status ``no_family_mate`` and is not scored."""


@dataclass(frozen=True)
class Condition:
    """One column of the suite (see the module docstring's table)."""

    sources: tuple[str, ...]
    music: tuple[str, ...]
    effects: bool = False
    interferers: tuple[int, int] = (2, 4)
    target_gain_db: tuple[float, float] = (-6.0, 6.0)
    interferer_gain_db: tuple[float, float] = (-9.0, 3.0)
    confusable: bool = False
    generic_examples: bool = False
    instruments: tuple[int, ...] = PITCHED


CONDITIONS: dict[str, Condition] = {
    "in-domain": Condition(TRAINING, IN_DOMAIN_MUSIC),
    "source": Condition(HELDOUT, IN_DOMAIN_MUSIC),
    "effects": Condition(TRAINING, IN_DOMAIN_MUSIC, effects=True),
    "music": Condition(TRAINING, HELDOUT_MUSIC),
    "density": Condition(TRAINING, IN_DOMAIN_MUSIC, interferers=(2, 6), target_gain_db=(0.0, 0.0),
                         interferer_gain_db=(-10.0, 5.0)),
    "confusable": Condition(TRAINING, IN_DOMAIN_MUSIC, confusable=True),
    "robust": Condition(HELDOUT, HELDOUT_MUSIC, effects=True),
    "robust-generic": Condition(HELDOUT, HELDOUT_MUSIC, effects=True, generic_examples=True),
    "robust-drums": Condition(HELDOUT, HELDOUT_MUSIC, effects=True, instruments=KITS),
}
HEADLINE = "robust"
DEFAULT_CONDITIONS = tuple(CONDITIONS)


def validate_conditions(names: list[str]) -> None:
    """Raise `UserError` for an unknown condition name."""
    bad = [n for n in names if n not in CONDITIONS]
    if bad or not names:
        raise UserError(f"--conditions {' '.join(bad) or '(none)'} is invalid: choose from {' '.join(CONDITIONS)}")


class RobustEpisodes:
    """Episodes of one condition and split; ``episode(i)`` is a pure function of (data, settings, i).

    Args:
        data: the robust set folder (``fewshot-sep data render-robust``).
        condition: a key of `CONDITIONS`.
        split: ``test`` (seen instruments) or ``test_unseen``.
        seconds / support_seconds: scored excerpt and example-clip lengths.
        k / negatives: support clips and negative clips drawn per episode.
        seed: episode seed.
    """

    def __init__(self, data: str | os.PathLike, condition: str, split: str, seconds: float,
                 support_seconds: float, k: int, negatives: int, seed: int) -> None:
        validate_conditions([condition])
        self.name = condition
        self.condition = c = CONDITIONS[condition]
        self.seed = seed
        self.preroll = int(round(PREROLL_S * SAMPLE_RATE)) if c.effects else 0
        config = EpisodeConfig(
            splits=(split,), interferer_splits=("test", "test_unseen"), support_splits=("test", "test_unseen"),
            clip_seconds=seconds + self.preroll / SAMPLE_RATE, support_seconds=support_seconds, k_range=(k, k),
            n_interferers=c.interferers, fill_interferers=True, negative_prob=1.0, negatives_range=(negatives, negatives),
            target_gain_db=c.target_gain_db, interferer_gain_db=c.interferer_gain_db, soundfonts=c.sources,
            instruments=c.instruments, music=c.music, confusable=c.confusable,
        )
        self.sampler = EpisodeSampler(data, config, seed=seed)
        self.generic = None
        if c.generic_examples:
            generic = replace(config, soundfonts=TRAINING, splits=("test", "test_unseen"), instruments=None, music=None)
            self.generic = EpisodeSampler(data, generic, seed=seed)

    @staticmethod
    def _has_family_mate(ep: Episode) -> bool:
        return ep.negative_instrument >= 0 and family_of(ep.negative_instrument) == family_of(ep.target_instrument)

    def episode(self, index: int) -> Episode:
        """Episode `index`: mixture and target ``[2, n]`` with effects (``[n]`` dry), support and
        negatives ``[k, m]`` mono, the effect parameters in ``stems["production"]``."""
        ep = self.sampler.episode(index)
        if self.condition.confusable:
            for attempt in range(1, CONFUSABLE_ATTEMPTS + 1):
                if self._has_family_mate(ep):
                    break
                # no family mate for this target: draw another episode (deterministically)
                ep = self.sampler.episode(index + attempt * CONFUSABLE_STRIDE)
            ep.stems["confusable"] = self._has_family_mate(ep)  # False: the harness does not score it
        ep.index = int(index)
        rng = np.random.default_rng([self.seed, int(index), 4049])
        if self.generic is not None:  # its own generator: the mixture stays the matched condition's
            banned = {ep.work_id, *ep.interferer_work_ids}
            examples_rng = np.random.default_rng([self.seed, int(index), 6151])
            ep.support, stems = self.generic.support_clips(examples_rng, ep.target_instrument, TRAINING[0], banned,
                                                           ep.support.shape[0])
            ep.stems["support"] = stems
            ep.soundfont = f"{ep.soundfont} (examples {TRAINING[0]})"
        if self.condition.effects:
            from fewshot_sep.data.production import produce_episode

            produce_episode(ep, rng, preroll=self.preroll, process_support=self.generic is None)
        return ep


__all__ = ["CONDITIONS", "Condition", "RobustEpisodes", "HEADLINE", "DEFAULT_CONDITIONS", "validate_conditions"]
