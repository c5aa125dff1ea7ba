"""Few-shot episode sampler (numpy only, no torch), for training and evaluation.

An episode (DESIGN.md, evaluation protocol):

- a target = (instrument, soundfont) pair;
- a mixture of a `clip_seconds` crop of the target stem (chosen where the
  target is active) with 1-4 interfering instruments: either the other parts of
  the same work over the same time span (``coherent``, the realistic case) or
  crops of stems from other works (augmentation); random gains;
- a support set of k clips of the same (instrument, soundfont) from works that
  are NOT in the mixture;
- optionally negative clips of an instrument present in the mixture, from works
  not in the mixture (the interferer's soundfont preferred).

``EpisodeSampler(...).episode(i)`` is a pure function of (dataset, config, seed, i),
so episodes are reproducible and can be drawn in any order or in parallel.
Audio comes from a `StemStore` (`fewshot_sep.data.stem_store`): `FlacStore` reads FLAC
slices from disk, `MemoryStore` holds the stems in one int16 array (no disk access per episode).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from fewshot_sep.data.manifest import (ACTIVITY_HOP, SAMPLE_RATE, decode_activity, music_stream, n_activity_frames,
                                       read_manifest)
from fewshot_sep.data.stem_store import FlacStore, MemoryStore, StemStore, read_clip  # noqa: F401  (re-exported)
from fewshot_sep.utils.errors import UserError


# ----------------------------------------------------------------------------- config + episode


@dataclass(frozen=True)
class EpisodeConfig:
    """What episodes look like.

    `splits`: manifest splits the target is drawn from; `interferer_splits` and
    `support_splits` default to `splits` (e.g. evaluation of unseen instruments:
    ``splits=("test_unseen",), interferer_splits=("test", "test_unseen")``).
    Ranges are inclusive ``(low, high)``; gains in dB are applied to each source.
    `fill_interferers`: when a coherent episode's piece has fewer other active
    parts than the drawn number of interferers, add excerpts of other pieces up
    to that number (the evaluation protocol counts interferers); off by default,
    which keeps the training episode stream as it was.
    `music`: music streams (`fewshot_sep.data.manifest.music_stream` of the
    ``source`` column) the mixture's stems must come from (None = all; support
    and negative clips may come from any stream).
    `confusable`: the share of episodes (0..1; True = every one) in which one
    interferer is an instrument of the target's own GM family (another kit for
    drums), from another piece, and the negatives (when drawn) are of it.
    """

    splits: tuple[str, ...] = ("train",)
    interferer_splits: tuple[str, ...] | None = None
    support_splits: tuple[str, ...] | None = None
    clip_seconds: float = 3.0
    support_seconds: float | None = None
    k_range: tuple[int, int] = (1, 10)
    n_interferers: tuple[int, int] = (1, 4)
    coherent_prob: float = 0.7
    negative_prob: float = 0.5
    negatives_range: tuple[int, int] = (1, 5)
    target_gain_db: tuple[float, float] = (-6.0, 6.0)
    interferer_gain_db: tuple[float, float] = (-9.0, 3.0)
    min_active: float = 0.5
    soundfonts: tuple[str, ...] | None = None
    instruments: tuple[int, ...] | None = None
    peak_limit: float = 0.99
    fill_interferers: bool = False
    music: tuple[str, ...] | None = None
    confusable: float = 0.0

    def __post_init__(self) -> None:
        for name in ("k_range", "n_interferers", "negatives_range"):
            lo, hi = getattr(self, name)
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi):
                raise UserError(f"{name}={getattr(self, name)} is invalid: use integers 0 <= low <= high")
        if self.k_range[0] < 1 or self.n_interferers[1] < 1:
            raise UserError(f"k_range={self.k_range} / n_interferers={self.n_interferers}: need k >= 1 and at least 1 interferer")
        if not (0.1 <= self.clip_seconds <= 60.0):
            raise UserError(f"clip_seconds={self.clip_seconds} is invalid: use 0.1..60 s")
        for name in ("coherent_prob", "negative_prob", "min_active", "confusable"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"{name}={getattr(self, name)} is invalid: use 0..1")


@dataclass
class Episode:
    """One few-shot episode. Audio is float32 mono at 44.1 kHz.

    Shapes: mixture, target ``[n]``; interferers ``[m, n]``; support ``[k, n_clip]``;
    negatives ``[j, n_clip]`` (j may be 0). ``mixture == target + interferers.sum(0)``
    (gains already applied).
    """

    mixture: np.ndarray
    target: np.ndarray
    interferers: np.ndarray
    support: np.ndarray
    negatives: np.ndarray
    target_instrument: int
    soundfont: str
    work_id: str
    coherent: bool
    interferer_instruments: list[int]
    interferer_work_ids: list[str]
    support_work_ids: list[str]
    negative_instrument: int  # -1 when there are no negatives
    negative_work_ids: list[str]
    gains_db: list[float]  # target first, then interferers
    target_start_s: float
    seed: int
    index: int
    stems: dict = field(default_factory=dict)  # manifest row indices used: target, interferers, support, negatives
    # A stereo-produced episode seen from one channel (data.production with a stereo_input model):
    # mixture/target/interferers are that channel, this is the other channel's mixture ``[n]``.
    mixture_other: np.ndarray | None = None


class _Pool:
    """Stems of one split selection, with precomputed valid crop starts."""

    def __init__(self, rows: list[dict], indices: np.ndarray, clip_frames: int, min_active: float) -> None:
        self.indices = indices
        self.valid_starts: dict[int, np.ndarray] = {}
        for i in indices:
            r = rows[i]
            act = decode_activity(r["activity"], n_activity_frames(r["num_samples"]))
            n_pos = len(act) - clip_frames + 1
            if n_pos <= 0:
                continue
            cs = np.concatenate([[0], np.cumsum(act, dtype=np.int64)])
            frac = (cs[clip_frames:] - cs[:-clip_frames])[:n_pos] / clip_frames
            starts = np.nonzero(frac >= min_active)[0]
            if len(starts):
                self.valid_starts[int(i)] = starts.astype(np.int32)


class EpisodeSampler:
    """Reproducible episode iterator over a rendered dataset.

    `dataset`: folder with ``manifest.csv`` (or the rows themselves with `root`).
    `store`: audio access (default `FlacStore`); pass a `MemoryStore` for speed.
    `episode(i)` returns the i-th episode; iterating yields episodes 0, 1, 2, ...
    """

    def __init__(self, dataset: str | os.PathLike | Sequence[dict], config: EpisodeConfig | None = None,
                 seed: int = 0, store: StemStore | None = None, root: str | os.PathLike | None = None) -> None:
        self.config = config or EpisodeConfig()
        self.seed = int(seed)
        if isinstance(dataset, (str, os.PathLike)):
            self.root = Path(dataset)
            self.rows = read_manifest(self.root)
        else:
            if root is None:
                raise UserError("EpisodeSampler: pass root= (the dataset folder) together with manifest rows")
            self.root = Path(root)
            self.rows = list(dataset)
        cfg = self.config
        self.clip_samples = int(round(cfg.clip_seconds * SAMPLE_RATE))
        self.support_samples = int(round((cfg.support_seconds or cfg.clip_seconds) * SAMPLE_RATE))
        clip_frames = max(1, int(np.ceil(self.clip_samples / ACTIVITY_HOP)))
        sup_frames = max(1, int(np.ceil(self.support_samples / ACTIVITY_HOP)))

        def select(splits: tuple[str, ...], restrict: bool, same_music: bool = True) -> np.ndarray:
            keep = []
            for i, r in enumerate(self.rows):
                if r["silent"] or r["split"] not in splits or r["split"] == "excluded":
                    continue
                if cfg.soundfonts is not None and r["soundfont"] not in cfg.soundfonts:
                    continue
                if restrict and cfg.instruments is not None and r["instrument"] not in cfg.instruments:
                    continue
                if same_music and cfg.music is not None and music_stream(r["source"]) not in cfg.music:
                    continue
                keep.append(i)
            return np.array(keep, np.int64)

        self.target_pool = _Pool(self.rows, select(cfg.splits, True), clip_frames, cfg.min_active)
        self.interferer_pool = _Pool(self.rows, select(cfg.interferer_splits or cfg.splits, False), clip_frames, 0.2)
        # Examples may come from any music (a producer's takes are not of the song's style).
        self.support_pool = _Pool(self.rows, select(cfg.support_splits or cfg.splits, False, same_music=False),
                                  sup_frames, cfg.min_active)
        self.interferer_allowed = set(int(i) for i in select(cfg.interferer_splits or cfg.splits, False))
        self._select_any_music = select(cfg.interferer_splits or cfg.splits, False, same_music=False)
        self._clip_frames = clip_frames
        self._confusable_pool: _Pool | None = None

        # (instrument, soundfont) -> support stems; instrument -> support stems (for negatives)
        self.support_by_pair: dict[tuple[int, str], list[int]] = {}
        self.support_by_instrument: dict[int, list[int]] = {}
        for i in self.support_pool.valid_starts:
            r = self.rows[i]
            self.support_by_pair.setdefault((r["instrument"], r["soundfont"]), []).append(i)
            self.support_by_instrument.setdefault(r["instrument"], []).append(i)
        self.by_work: dict[str, list[int]] = {}
        for i, r in enumerate(self.rows):
            self.by_work.setdefault(r["work_id"], []).append(i)

        # Targets: pairs with an active crop and support material in at least one other work.
        targets: dict[tuple[int, str], list[int]] = {}
        for i in self.target_pool.valid_starts:
            r = self.rows[i]
            pair = (r["instrument"], r["soundfont"])
            other_works = {self.rows[j]["work_id"] for j in self.support_by_pair.get(pair, [])} - {r["work_id"]}
            if other_works:
                targets.setdefault(pair, []).append(i)
        if not targets:
            raise UserError(f"no episode can be built from {self.root} with splits {cfg.splits}: each target "
                            f"needs an active stem and support from another work; render more (--hours)")
        self.pairs = sorted(targets)
        self.targets_by_pair = {p: np.array(v, np.int64) for p, v in targets.items()}
        self.interferer_stems = np.array(sorted(self.interferer_pool.valid_starts), np.int64)
        self.store: StemStore = store if store is not None else FlacStore(self.root, self.rows)
        self._activity: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ helpers

    def _crop(self, rng: np.random.Generator, pool: _Pool, stem: int, n: int) -> int:
        starts = pool.valid_starts[stem]
        frame = int(starts[rng.integers(len(starts))])
        start = frame * ACTIVITY_HOP + int(rng.integers(ACTIVITY_HOP))
        return int(max(0, min(start, self.rows[stem]["num_samples"] - n)))

    def _clips(self, rng: np.random.Generator, candidates: list[int], banned_works: set[str], count: int) -> tuple[list[int], list[int]]:
        """`count` (stem, start) support-style clips from `candidates` outside `banned_works`."""
        allowed = [c for c in candidates if self.rows[c]["work_id"] not in banned_works]
        if not allowed:
            return [], []
        stems = [allowed[int(rng.integers(len(allowed)))] for _ in range(count)]
        starts = [self._crop(rng, self.support_pool, s, self.support_samples) for s in stems]
        return stems, starts

    def _window_activity(self, stem: int, start: int) -> float:
        act = self._activity.get(stem)
        if act is None:
            r = self.rows[stem]
            act = self._activity[stem] = decode_activity(r["activity"], n_activity_frames(r["num_samples"]))
        f0 = start // ACTIVITY_HOP
        f1 = max(f0 + 1, (start + self.clip_samples) // ACTIVITY_HOP)
        return float(act[f0:f1].mean()) if f1 <= len(act) else 0.0

    # ------------------------------------------------------------------ public

    def episode(self, index: int) -> Episode:
        """The `index`-th episode (deterministic for this sampler's dataset, config and seed)."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, int(index)])
        pair = self.pairs[int(rng.integers(len(self.pairs)))]
        target_stem = int(rng.choice(self.targets_by_pair[pair]))
        trow = self.rows[target_stem]
        n = self.clip_samples
        t_start = self._crop(rng, self.target_pool, target_stem, n)
        n_inter = int(rng.integers(cfg.n_interferers[0], cfg.n_interferers[1] + 1))
        # Support first (never from the target's work); random interferers then avoid the support's works.
        k = int(rng.integers(cfg.k_range[0], cfg.k_range[1] + 1))
        sup_stems, sup_starts = self._clips(rng, self.support_by_pair[pair], {trow["work_id"]}, k)
        support_works = {self.rows[s]["work_id"] for s in sup_stems}

        inter: list[tuple[int, int]] = []  # (stem, start)
        coherent = False
        if rng.random() < cfg.coherent_prob:
            mates = [j for j in self.by_work[trow["work_id"]]
                     if j != target_stem and j in self.interferer_allowed and not self.rows[j]["silent"]]
            mates = [j for j in mates if self._window_activity(j, t_start) >= 0.2]
            if mates:
                coherent = True
                pick = rng.permutation(len(mates))[: min(n_inter, len(mates))]
                inter = [(mates[int(p)], t_start) for p in sorted(pick)]
        if not coherent or (cfg.fill_interferers and len(inter) < n_inter):
            # Excerpts of other pieces: all interferers, or the ones a short piece lacks.
            used_instruments = {pair[0]} | {self.rows[j]["instrument"] for j, _ in inter}
            used_works = {trow["work_id"]} | support_works
            for _ in range(8 * n_inter):
                if len(inter) >= n_inter or not len(self.interferer_stems):
                    break
                j = int(self.interferer_stems[rng.integers(len(self.interferer_stems))])
                r = self.rows[j]
                if r["instrument"] in used_instruments or r["work_id"] in used_works:
                    continue
                inter.append((j, self._crop(rng, self.interferer_pool, j, n)))
                used_instruments.add(r["instrument"])
                used_works.add(r["work_id"])

        # (the extra draw only when 0 < share < 1: other configs keep their episode streams)
        confusable = cfg.confusable >= 1 or (cfg.confusable > 0 and rng.random() < cfg.confusable)
        confusable_stem = self._confusable(rng, trow, inter, support_works, n) if confusable else None
        mixture_works = {trow["work_id"]} | {self.rows[j]["work_id"] for j, _ in inter}

        neg_inst, neg_stems, neg_starts = -1, [], []
        if inter and rng.random() < cfg.negative_prob:
            j, _ = inter[int(rng.integers(len(inter)))]
            if confusable_stem is not None:
                j = confusable_stem
            neg_inst = self.rows[j]["instrument"]
            sf = self.rows[j]["soundfont"]
            cands = self.support_by_pair.get((neg_inst, sf)) or self.support_by_instrument.get(neg_inst, [])
            count = int(rng.integers(cfg.negatives_range[0], cfg.negatives_range[1] + 1))
            neg_stems, neg_starts = self._clips(rng, cands, mixture_works, count)
            if not neg_stems:
                neg_inst = -1

        gains = [float(rng.uniform(*cfg.target_gain_db))] + [float(rng.uniform(*cfg.interferer_gain_db)) for _ in inter]
        target = np.empty(n, np.float32)
        self.store.read_into(target_stem, t_start, target)
        target *= np.float32(10 ** (gains[0] / 20))
        interferers = np.empty((len(inter), n), np.float32)
        mixture = target.copy()
        for row, ((j, s), g) in enumerate(zip(inter, gains[1:])):
            self.store.read_into(j, s, interferers[row])
            interferers[row] *= np.float32(10 ** (g / 20))
            mixture += interferers[row]
        peak = float(max(mixture.max(), -mixture.min()))
        if peak > cfg.peak_limit:  # scale every source so the mixture does not clip
            scale = np.float32(cfg.peak_limit / peak)
            mixture *= scale
            target *= scale
            interferers *= scale
            gains = [g + 20 * float(np.log10(scale)) for g in gains]
        m = self.support_samples
        support = np.empty((len(sup_stems), m), np.float32)
        for row, (s, st) in enumerate(zip(sup_stems, sup_starts)):
            self.store.read_into(s, st, support[row])
        negatives = np.empty((len(neg_stems), m), np.float32)
        for row, (s, st) in enumerate(zip(neg_stems, neg_starts)):
            self.store.read_into(s, st, negatives[row])
        return Episode(
            mixture=mixture, target=target, interferers=interferers, support=support, negatives=negatives,
            target_instrument=pair[0], soundfont=pair[1], work_id=trow["work_id"], coherent=coherent,
            interferer_instruments=[self.rows[j]["instrument"] for j, _ in inter],
            interferer_work_ids=[self.rows[j]["work_id"] for j, _ in inter],
            support_work_ids=[self.rows[s]["work_id"] for s in sup_stems],
            negative_instrument=neg_inst, negative_work_ids=[self.rows[s]["work_id"] for s in neg_stems],
            gains_db=gains, target_start_s=t_start / SAMPLE_RATE, seed=self.seed, index=int(index),
            stems={"target": target_stem, "interferers": [j for j, _ in inter], "support": sup_stems,
                   "negatives": neg_stems},
        )

    def _confusable(self, rng: np.random.Generator, trow: dict, inter: list[tuple[int, int]],
                    support_works: set[str], n: int) -> int | None:
        """Make one interferer of `inter` (in place) an instrument of the target's family from
        another piece; returns its stem (None when the data has no such stem)."""
        family = trow["family"]
        mates = [i for i, (j, _) in enumerate(inter) if self.rows[j]["family"] == family]
        if mates:
            return inter[mates[0]][0]
        banned = {trow["work_id"]} | support_works | {self.rows[j]["work_id"] for j, _ in inter}
        used = {trow["instrument"]} | {self.rows[j]["instrument"] for j, _ in inter}
        if self._confusable_pool is None:  # any music: the family mate is an excerpt of another piece
            self._confusable_pool = _Pool(self.rows, self._select_any_music, self._clip_frames, 0.2)
        pool = [j for j in self._confusable_pool.valid_starts if self.rows[j]["family"] == family
                and self.rows[j]["instrument"] not in used and self.rows[j]["work_id"] not in banned]
        if not pool:
            return None
        j = pool[int(rng.integers(len(pool)))]
        entry = (j, self._crop(rng, self._confusable_pool, j, n))
        if inter:
            inter[-1] = entry  # keep the drawn number of interferers
        else:
            inter.append(entry)
        return j

    def support_clips(self, rng: np.random.Generator, instrument: int, soundfont: str,
                      banned_works: set[str], count: int) -> tuple[np.ndarray, list[int]]:
        """`count` clips ``[count, support_samples]`` of (`instrument`, `soundfont`) from works
        outside `banned_works` (``[0, support_samples]`` when there are none), and their stems
        (manifest row indices)."""
        stems, starts = self._clips(rng, self.support_by_pair.get((instrument, soundfont), []), banned_works, count)
        out = np.empty((len(stems), self.support_samples), np.float32)
        for row, (s, st) in enumerate(zip(stems, starts)):
            self.store.read_into(s, st, out[row])
        return out, stems

    def __iter__(self) -> Iterator[Episode]:
        index = 0
        while True:
            yield self.episode(index)
            index += 1

    def instrument_ids(self) -> list[int]:
        """Sorted target instrument labels this sampler can draw (e.g. for a one-hot baseline)."""
        return sorted({p[0] for p in self.pairs})

    def load_into_memory(self, progress: bool = True, cache: bool = False) -> MemoryStore:
        """Load every stem an episode may read into a `MemoryStore` and use it from now on
        (`cache`: keep/reuse a memory-mapped copy under ``<root>/memstore/``, see `MemoryStore.load`)."""
        store = MemoryStore.load(self.root, self.rows, self.needed_stems(), progress=progress, cache=cache)
        self.store = store
        return store

    def needed_stems(self) -> np.ndarray:
        """Boolean ``[n_rows]``: stems any episode may read (pass to `MemoryStore.load` as `wanted`)."""
        need = np.zeros(len(self.rows), bool)
        for pool in (self.target_pool, self.interferer_pool, self.support_pool):
            need[list(pool.valid_starts)] = True
        for stems in self.targets_by_pair.values():
            for t in stems:
                for j in self.by_work[self.rows[int(t)]["work_id"]]:
                    if j in self.interferer_allowed:
                        need[j] = True
        return need
