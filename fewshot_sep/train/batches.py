"""Episode batches for training: timbre augmentation, collation, a background producer.

A batch for training step ``s`` holds the sampler's episodes ``s*B .. s*B + B - 1``
and is augmented with an RNG seeded by ``(seed, s)``, so the batch stream is a pure
function of the step: a resumed run sees exactly the batches it would have seen.

Batch (numpy, float32 audio at 44.1 kHz):

| key | shape | meaning |
|---|---|---|
| ``mixture``, ``target`` | ``[B, n]`` | mixture = target + interferers (after augmentation) |
| ``mixture_other`` | ``[B, n]`` | only in a batch with a stereo episode: the other channel's mixture (``Episode.mixture_other``, scaled with ``mixture``); ``mixture`` itself for a mono one |
| ``support`` | ``[S, m]`` | all support clips of the batch, ``S = sum_b k_b`` |
| ``support_episode`` | ``[S]`` int64 | episode (row of the batch) of each support clip |
| ``negatives`` | ``[J, m]`` | all negative clips (J may be 0) |
| ``negative_episode`` | ``[J]`` int64 | episode of each negative clip |
| ``has_negatives`` | ``[B]`` float32 | 1 where the episode has negatives |
| ``negative_source`` | ``[B, n]`` | the negative instrument's stem in the mixture (zeros without negatives) |
| ``target_instrument`` | ``[B]`` int64 | instrument label (one-hot baseline) |
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import scipy.fft

from fewshot_sep.contract.signal import SAMPLE_RATE


class EpisodeSource(Protocol):
    """Anything with ``episode(i)`` returning an object with the Episode audio fields."""

    def episode(self, index: int) -> Any: ...


@dataclass(frozen=True)
class AugmentConfig:
    """Timbre augmentation applied independently to every source and support clip.

    ``eq_db``: max deviation of a smooth random EQ curve (dB); ``tilt_db``: max
    spectral tilt (dB per octave around 1 kHz); ``reverb_prob``: share of
    sources given a light synthetic reverb with RT60 in ``reverb_rt60`` seconds
    and wet level in ``reverb_wet``.
    """

    enabled: bool = True
    eq_db: float = 4.0
    tilt_db: float = 1.5
    reverb_prob: float = 0.3
    reverb_rt60: tuple[float, float] = (0.15, 0.6)
    reverb_wet: tuple[float, float] = (0.05, 0.3)
    # True: the batch workers only draw the parameters (and reverb impulse responses); the
    # filtering, mixing and peak limiting run in torch on the training device
    # (fewshot_sep.train.device_augment.finish_batch). Same draws; the batch equals the
    # CPU one within -60 dB (every row takes the long FFT; CUDA sums are not bit-exact).
    on_device: bool = False


class _EqGrid:
    """The rfft bins of size ``n_fft`` as positions on the EQ's knot grid (cached per size):
    ``octaves [bins]`` around 1 kHz (floored at 20 Hz), the knot ``left [bins]`` below each
    bin and the linear weight ``frac [bins]`` of the knot above (clamped at both ends, as
    ``np.interp`` does), all float32 / int64."""

    _cache: dict[int, "_EqGrid"] = {}

    def __init__(self, n_fft: int) -> None:
        freqs = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
        octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
        left = np.clip(np.searchsorted(_EQ_KNOTS, octaves, side="right") - 1, 0, len(_EQ_KNOTS) - 2)
        frac = np.clip((octaves - _EQ_KNOTS[left]) / (_EQ_KNOTS[left + 1] - _EQ_KNOTS[left]), 0.0, 1.0)
        self.octaves, self.left, self.frac = octaves.astype(np.float32), left, frac.astype(np.float32)

    @classmethod
    def of(cls, n_fft: int) -> "_EqGrid":
        grid = cls._cache.get(n_fft)
        if grid is None:
            grid = cls._cache[n_fft] = cls(n_fft)
        return grid

    def curves(self, knots_db: np.ndarray, tilt_db: np.ndarray) -> np.ndarray:
        """Smooth magnitude responses (linear gain, float32) ``[R, bins]`` of ``R`` rows of
        ``knots_db [R, 8]`` and ``tilt_db [R]`` (dB per octave), all rows at once."""
        knots = knots_db.astype(np.float32)
        curve_db = knots[:, self.left] * (1.0 - self.frac) + knots[:, self.left + 1] * self.frac
        curve_db += tilt_db.astype(np.float32)[:, None] * self.octaves
        return np.exp(curve_db * _DB_TO_LOG_GAIN)


_EQ_KNOTS = np.linspace(-5.7, 4.5, 8)  # ~20 Hz .. ~22 kHz in octaves around 1 kHz
_DB_TO_LOG_GAIN = np.float32(np.log(10.0) / 20.0)
# Zero padding for a row with EQ only: a smooth 8-knot curve has a short impulse response
# (tens of ms), far shorter than a reverb tail, so those rows take a ~1.5x shorter FFT.
_EQ_PAD = 4096


def _fft_size(n: int) -> int:
    return int(np.ceil(n / 4096.0)) * 4096


AugmentRow = tuple[np.ndarray, float, "np.ndarray | None"]
"""One row's augmentation: EQ knots ``[8]`` (dB), tilt (dB per octave), reverb impulse
response ``[length]`` (float64, direct path included) or None."""


def draw_augment_params(n_rows: int, rng: np.random.Generator, cfg: AugmentConfig) -> list[AugmentRow]:
    """Draw ``n_rows`` rows' parameters in a fixed order (EQ knots, tilt, reverb?, RT60, IR,
    wet level), so a batch is a pure function of the RNG state wherever it is filtered."""
    rows = []
    for _ in range(n_rows):
        knots_db = rng.uniform(-cfg.eq_db, cfg.eq_db, len(_EQ_KNOTS))
        tilt_db = float(rng.uniform(-cfg.tilt_db, cfg.tilt_db))
        ir = None
        if rng.random() < cfg.reverb_prob:
            rt60 = rng.uniform(*cfg.reverb_rt60)
            length = int(rt60 * SAMPLE_RATE)
            t = np.arange(length) / SAMPLE_RATE
            ir = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
            ir *= rng.uniform(*cfg.reverb_wet) / (np.sqrt(np.sum(ir ** 2)) + 1e-9)
            ir[0] += 1.0
        rows.append((knots_db, tilt_db, ir))
    return rows


def pack_augment_params(rows: list[AugmentRow], prefix: str) -> dict[str, np.ndarray]:
    """Rows' parameters as arrays for a deferred batch: ``<prefix>_knots [R, 8]`` and
    ``<prefix>_tilt [R]`` (float32), ``<prefix>_reverb_row [Q]`` (int64, the rows with
    reverb) and ``<prefix>_ir [Q, L]`` (float32, zero-padded to the longest response)."""
    reverb = [i for i, row in enumerate(rows) if row[2] is not None]
    length = max([len(rows[i][2]) for i in reverb], default=1)
    irs = np.zeros((len(reverb), length), np.float32)
    for j, i in enumerate(reverb):
        irs[j, : len(rows[i][2])] = rows[i][2]
    values = (np.array([row[0] for row in rows], np.float32).reshape(len(rows), len(_EQ_KNOTS)),
              np.array([row[1] for row in rows], np.float32), np.array(reverb, np.int64), irs)
    return {f"{prefix}_{field}": value for field, value in zip(AUGMENT_PARAM_FIELDS, values)}


def augment(signals: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Apply an independent random EQ (and sometimes reverb) to each row of ``signals [N, n]``.

    The output keeps each row's RMS (the sampler's gains stay meaningful). Filtering is a
    linear (not circular) convolution through zero-padded FFTs: rows with reverb are padded
    by the longest possible tail, rows with EQ only by ``_EQ_PAD``.
    """
    if not cfg.enabled or signals.size == 0:
        return signals
    n = signals.shape[-1]
    rows = draw_augment_params(signals.shape[0], rng, cfg)
    out = np.empty(signals.shape, np.float32)
    long_fft = _fft_size(n + int(cfg.reverb_rt60[1] * SAMPLE_RATE))
    short_fft = _fft_size(n + _EQ_PAD)
    for reverb, n_fft in ((False, short_fft), (True, long_fft)):
        group = [i for i, row in enumerate(rows) if (row[2] is not None) == reverb]
        if not group:
            continue
        # scipy's FFTs keep float32 in single precision (complex64): faster than numpy's here,
        # at an error far below the augmentation's own changes (tests/train/test_augment.py).
        spectra = scipy.fft.rfft(signals[group].astype(np.float32, copy=False), n_fft, axis=-1)
        spectra *= _EqGrid.of(n_fft).curves(np.stack([rows[i][0] for i in group]),
                                            np.array([rows[i][1] for i in group]))
        for j, i in enumerate(group):
            ir = rows[i][2]
            if ir is not None:
                spectra[j] *= scipy.fft.rfft(ir.astype(np.float32), n_fft)
        out[group] = scipy.fft.irfft(spectra, n_fft, axis=-1)[:, :n]
    rms_in = np.sqrt(np.mean(signals ** 2, axis=-1, keepdims=True)) + 1e-8
    rms_out = np.sqrt(np.mean(out ** 2, axis=-1, keepdims=True)) + 1e-8
    return out * (rms_in / rms_out)


def _negative_row(ep: Any) -> int:
    """Row in ``ep.interferers`` of the negative instrument's stem, or -1 (no negatives, or
    their instrument is not in the mixture)."""
    if len(ep.negatives) and ep.negative_instrument in ep.interferer_instruments:
        return ep.interferer_instruments.index(ep.negative_instrument)
    return -1


AUGMENT_PARAM_FIELDS = ("knots", "tilt", "reverb_row", "ir")
"""Suffixes of the keys :func:`pack_augment_params` writes per group (``<group>_<field>``)."""


def make_batch(source: EpisodeSource, step: int, batch_size: int, seed: int,
               augment_cfg: AugmentConfig | None = None, peak_limit: float = 0.99) -> dict[str, np.ndarray]:
    """Collate (and augment) the episodes of training step ``step`` into a batch dict.

    With ``augment_cfg.on_device`` (and augmentation enabled) the batch is *deferred*: see
    :func:`make_deferred_batch`; ``fewshot_sep.train.device_augment.finish_batch`` turns it
    into this function's batch on the training device."""
    aug = augment_cfg or AugmentConfig(enabled=False)
    if aug.enabled and aug.on_device:
        return make_deferred_batch(source, step, batch_size, seed, aug, peak_limit)
    rng = np.random.default_rng([int(seed), 7, int(step)])
    mixtures, targets, supports, sup_idx, negatives, neg_idx, has_neg, labels = [], [], [], [], [], [], [], []
    negative_sources, others, any_stereo = [], [], False
    for b in range(batch_size):
        ep = source.episode(step * batch_size + b)
        target = ep.target[None, :]
        interferers = ep.interferers
        other = getattr(ep, "mixture_other", None)
        any_stereo |= other is not None
        # A stereo episode's sources stay as produced: augmenting one channel alone would
        # change its level difference from the other (production has drawn its own effects).
        if aug.enabled and other is None:
            target = augment(target, rng, aug)
            interferers = augment(interferers, rng, aug)
        mixture = target[0] + interferers.sum(axis=0)
        other = mixture if other is None else other
        peak = max(float(np.abs(mixture).max()), float(np.abs(other).max()))
        scale = np.float32(peak_limit / peak) if peak > peak_limit else np.float32(1.0)
        mixtures.append(mixture * scale)
        others.append(other * scale)
        targets.append(target[0] * scale)
        negative_row = _negative_row(ep)
        negative_sources.append(interferers[negative_row] * scale if negative_row >= 0 else np.zeros_like(target[0]))
        support = augment(ep.support, rng, aug) if aug.enabled else ep.support
        supports.append(support)
        sup_idx += [b] * len(support)
        negs = ep.negatives
        if len(negs):
            negs = augment(negs, rng, aug) if aug.enabled else negs
            negatives.append(negs)
            neg_idx += [b] * len(negs)
        has_neg.append(1.0 if len(negs) else 0.0)
        labels.append(int(ep.target_instrument))
    clip_len = supports[0].shape[-1]
    # the other channel travels only with stereo episodes: a mono run's batches stay as they were
    stereo = {"mixture_other": np.stack(others).astype(np.float32)} if any_stereo else {}
    return {
        "mixture": np.stack(mixtures).astype(np.float32),
        **stereo,
        "target": np.stack(targets).astype(np.float32),
        "support": np.concatenate(supports).astype(np.float32),
        "support_episode": np.array(sup_idx, np.int64),
        "negatives": (np.concatenate(negatives) if negatives else np.zeros((0, clip_len))).astype(np.float32),
        "negative_episode": np.array(neg_idx, np.int64),
        "has_negatives": np.array(has_neg, np.float32),
        "negative_source": np.stack(negative_sources).astype(np.float32),
        "target_instrument": np.array(labels, np.int64),
    }


def make_deferred_batch(source: EpisodeSource, step: int, batch_size: int, seed: int,
                        aug: AugmentConfig, peak_limit: float = 0.99) -> dict[str, np.ndarray]:
    """The batch of :func:`make_batch` before augmentation: the same episodes and the same
    parameter draws (same RNG, same order), with the sources kept apart.

    Keys: ``source_rows [Rs, n]`` (each episode's target, then its interferers),
    ``source_episode [Rs]`` (int64), ``source_is_target`` / ``source_is_negative [Rs]``
    (float32: the target row; the interferer of the negative instrument, when the episode
    has negatives), raw ``support [S, m]`` and ``negatives [J, m]`` with their episode
    indices, ``has_negatives``, ``target_instrument``, ``source_peak_limit [1]``, and the
    augmentation parameters of the three groups (:func:`pack_augment_params`, prefixes
    ``source``, ``support``, ``negatives``)."""
    rng = np.random.default_rng([int(seed), 7, int(step)])
    sources, src_idx, is_target, is_negative, src_params = [], [], [], [], []
    supports, sup_idx, sup_params, negatives, neg_idx, neg_params = [], [], [], [], [], []
    has_neg, labels = [], []
    for b in range(batch_size):
        ep = source.episode(step * batch_size + b)
        if getattr(ep, "mixture_other", None) is not None:
            from fewshot_sep.utils.errors import UserError

            raise UserError("data.augment.on_device does not handle stereo episodes (a model.stereo_input run): "
                            "set data.augment.on_device to false")
        n_inter = len(ep.interferers)
        # make_batch's draw order: the target, its interferers, the support, the negatives
        src_params += draw_augment_params(1, rng, aug) + draw_augment_params(n_inter, rng, aug)
        sources += [ep.target] + list(ep.interferers)
        src_idx += [b] * (1 + n_inter)
        negative_row = _negative_row(ep)
        is_target += [1.0] + [0.0] * n_inter
        is_negative += [0.0] + [1.0 if i == negative_row else 0.0 for i in range(n_inter)]
        sup_params += draw_augment_params(len(ep.support), rng, aug)
        supports.append(ep.support)
        sup_idx += [b] * len(ep.support)
        if len(ep.negatives):
            neg_params += draw_augment_params(len(ep.negatives), rng, aug)
            negatives.append(ep.negatives)
            neg_idx += [b] * len(ep.negatives)
        has_neg.append(1.0 if len(ep.negatives) else 0.0)
        labels.append(int(ep.target_instrument))
    clip_len = supports[0].shape[-1]
    return {
        "source_rows": np.stack(sources).astype(np.float32),
        "source_episode": np.array(src_idx, np.int64),
        "source_is_target": np.array(is_target, np.float32),
        "source_is_negative": np.array(is_negative, np.float32),
        "source_peak_limit": np.array([peak_limit], np.float32),
        "support": np.concatenate(supports).astype(np.float32),
        "support_episode": np.array(sup_idx, np.int64),
        "negatives": (np.concatenate(negatives) if negatives else np.zeros((0, clip_len))).astype(np.float32),
        "negative_episode": np.array(neg_idx, np.int64),
        "has_negatives": np.array(has_neg, np.float32),
        "target_instrument": np.array(labels, np.int64),
        **pack_augment_params(src_params, "source"),
        **pack_augment_params(sup_params, "support"),
        **pack_augment_params(neg_params, "negatives"),
    }


def _producer(make: Callable[[int], dict], steps: Sequence[int], out: "mp.Queue") -> None:
    for step in steps:
        out.put((step, make(step)))


class BatchStream:
    """Batches for steps ``start, start + 1, ...`` made ahead in background worker processes.

    Workers are forked (the parent's in-memory stem store is shared copy-on-write,
    nothing is pickled except the finished batches). ``workers = 0`` makes
    batches in the calling thread (tests, debugging).
    """

    def __init__(self, make: Callable[[int], dict], start_step: int, workers: int = 1, prefetch: int = 3,
                 max_steps: int = 10 ** 9) -> None:
        self.make = make
        self.next_step = start_step
        self._start = start_step
        self.workers = workers
        self.procs: list[mp.Process] = []
        self.queues: list[mp.Queue] = []
        if workers > 0:
            ctx = mp.get_context("fork")
            for w in range(workers):
                q = ctx.Queue(maxsize=prefetch)
                p = ctx.Process(target=_producer, args=(make, range(start_step + w, max_steps, workers), q),
                                daemon=True)
                p.start()
                self.procs.append(p)
                self.queues.append(q)

    def __iter__(self) -> Iterator[dict]:
        return self

    def __next__(self) -> dict:
        step = self.next_step
        if self.workers == 0:
            batch = self.make(step)
        else:
            q = self.queues[self._worker_of(step)]
            while True:
                try:
                    got_step, batch = q.get(timeout=5.0)
                    break
                except queue.Empty:
                    if not self.procs[self._worker_of(step)].is_alive():
                        raise RuntimeError("the batch worker process died (see its traceback above)")
            if got_step != step:
                raise RuntimeError(f"batch stream out of order: expected step {step}, got {got_step}")
        self.next_step += 1
        return batch

    def _worker_of(self, step: int) -> int:
        return (step - self._start) % self.workers

    def close(self) -> None:
        """Stop the workers."""
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(timeout=5)
        self.procs = []
