"""Episode batches for training: timbre augmentation, collation, a background producer.

A batch for training step ``s`` holds the sampler's episodes ``s*B .. s*B + B - 1``
and is augmented with an RNG seeded by ``(seed, s)``, so the batch stream is a pure
function of the step: a resumed run sees exactly the batches it would have seen.

Batch (numpy, float32 audio at 44.1 kHz):

| key | shape | meaning |
|---|---|---|
| ``mixture``, ``target`` | ``[B, n]`` | mixture = target + interferers (after augmentation) |
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

SAMPLE_RATE = 44100


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


def augment(signals: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Apply an independent random EQ (and sometimes reverb) to each row of ``signals [N, n]``.

    The output keeps each row's RMS (the sampler's gains stay meaningful). Filtering is a
    linear (not circular) convolution through zero-padded FFTs: rows with reverb are padded
    by the longest possible tail, rows with EQ only by ``_EQ_PAD``.
    """
    if not cfg.enabled or signals.size == 0:
        return signals
    n = signals.shape[-1]
    # Draw every row's parameters first, in a fixed order (EQ knots, tilt, reverb?, RT60, IR,
    # wet level), so the batch is a pure function of the RNG state.
    rows = []
    for _ in range(signals.shape[0]):
        knots_db = rng.uniform(-cfg.eq_db, cfg.eq_db, len(_EQ_KNOTS))
        tilt_db = rng.uniform(-cfg.tilt_db, cfg.tilt_db)
        ir = None
        if rng.random() < cfg.reverb_prob:
            rt60 = rng.uniform(*cfg.reverb_rt60)
            length = int(rt60 * SAMPLE_RATE)
            t = np.arange(length) / SAMPLE_RATE
            ir = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
            ir *= rng.uniform(*cfg.reverb_wet) / (np.sqrt(np.sum(ir ** 2)) + 1e-9)
            ir[0] += 1.0
        rows.append((knots_db, tilt_db, ir))
    out = np.empty(signals.shape, np.float32)
    long_fft = _fft_size(n + int(cfg.reverb_rt60[1] * SAMPLE_RATE))
    short_fft = _fft_size(n + _EQ_PAD)
    for reverb, n_fft in ((False, short_fft), (True, long_fft)):
        group = [i for i, row in enumerate(rows) if (row[2] is not None) == reverb]
        if not group:
            continue
        # scipy's FFTs keep float32 in single precision (complex64): faster than numpy's here,
        # at an error far below the augmentation's own changes (tests/test_augment.py).
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


def make_batch(source: EpisodeSource, step: int, batch_size: int, seed: int,
               augment_cfg: AugmentConfig | None = None, peak_limit: float = 0.99) -> dict[str, np.ndarray]:
    """Collate (and augment) the episodes of training step ``step`` into a batch dict."""
    rng = np.random.default_rng([int(seed), 7, int(step)])
    aug = augment_cfg or AugmentConfig(enabled=False)
    mixtures, targets, supports, sup_idx, negatives, neg_idx, has_neg, labels = [], [], [], [], [], [], [], []
    negative_sources = []
    for b in range(batch_size):
        ep = source.episode(step * batch_size + b)
        target = ep.target[None, :]
        interferers = ep.interferers
        if aug.enabled:
            target = augment(target, rng, aug)
            interferers = augment(interferers, rng, aug)
        mixture = target[0] + interferers.sum(axis=0)
        peak = float(np.abs(mixture).max())
        scale = np.float32(peak_limit / peak) if peak > peak_limit else np.float32(1.0)
        mixtures.append(mixture * scale)
        targets.append(target[0] * scale)
        negative_source = np.zeros_like(target[0])
        if len(ep.negatives) and ep.negative_instrument in ep.interferer_instruments:
            negative_source = interferers[ep.interferer_instruments.index(ep.negative_instrument)] * scale
        negative_sources.append(negative_source)
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
    return {
        "mixture": np.stack(mixtures).astype(np.float32),
        "target": np.stack(targets).astype(np.float32),
        "support": np.concatenate(supports).astype(np.float32),
        "support_episode": np.array(sup_idx, np.int64),
        "negatives": (np.concatenate(negatives) if negatives else np.zeros((0, clip_len))).astype(np.float32),
        "negative_episode": np.array(neg_idx, np.int64),
        "has_negatives": np.array(has_neg, np.float32),
        "negative_source": np.stack(negative_sources).astype(np.float32),
        "target_instrument": np.array(labels, np.int64),
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
