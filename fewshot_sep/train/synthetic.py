"""Synthetic few-shot episodes (no rendered data needed): for smoke runs and tests.

Each synthetic "instrument" is a fixed timbre: a harmonic amplitude profile,
an attack/decay envelope, a pitch range and a noise share. A small bank of
"recordings" (notes of random pitch and length) is synthesised once per
instrument; episodes crop it, so they are cheap, deterministic in (seed, index)
and are :class:`fewshot_sep.data.episodes.Episode` objects (work ids
``synthetic-<index>``, soundfont ``synthetic``).
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.contract.signal import SAMPLE_RATE
from fewshot_sep.data.episodes import Episode


class SyntheticSampler:
    """Episodes of synthetic instruments; ``episode(i)`` is a pure function of (seed, i).

    Args:
        n_instruments: number of distinct timbres (instrument labels 0..n-1).
        clip_seconds / support_seconds: mixture and support clip lengths.
        k_range / n_interferers / negatives_range: inclusive ranges.
        negative_prob: share of episodes with negatives (of an instrument in the mix).
        seed: episode stream seed.
    """

    def __init__(self, n_instruments: int = 8, clip_seconds: float = 1.0, support_seconds: float | None = None,
                 k_range: tuple[int, int] = (1, 5), n_interferers: tuple[int, int] = (1, 2),
                 negative_prob: float = 0.3, negatives_range: tuple[int, int] = (1, 3), seed: int = 0) -> None:
        self.n_instruments = n_instruments
        self.clip_samples = int(round(clip_seconds * SAMPLE_RATE))
        self.support_samples = int(round((support_seconds or clip_seconds) * SAMPLE_RATE))
        self.k_range = k_range
        self.n_interferers = n_interferers
        self.negative_prob = negative_prob
        self.negatives_range = negatives_range
        self.seed = seed
        self.bank_clips = 4
        self.bank_samples = int(max(self.clip_samples, self.support_samples) + 2 * SAMPLE_RATE)
        self._banks: dict[int, np.ndarray] = {}
        timbre_rng = np.random.default_rng(12345)  # the instruments are fixed, whatever the episode seed
        self.timbres = []
        for i in range(n_instruments):
            n_harm = int(timbre_rng.integers(3, 16))
            tilt = timbre_rng.uniform(0.3, 1.5)
            profile = (np.arange(1, n_harm + 1) ** -tilt) * timbre_rng.uniform(0.2, 1.0, n_harm)
            if timbre_rng.random() < 0.5:
                profile[1::2] *= 0.1  # clarinet-like odd harmonics
            low = timbre_rng.uniform(40, 72)
            self.timbres.append(dict(profile=profile, low=low, high=low + timbre_rng.uniform(6, 18),
                                     attack=timbre_rng.uniform(0.002, 0.08), decay=timbre_rng.uniform(0.5, 6.0),
                                     noise=timbre_rng.uniform(0.0, 0.3) if i % 3 == 0 else 0.0))

    def instrument_ids(self) -> list[int]:
        return list(range(self.n_instruments))

    def _bank(self, instrument: int) -> np.ndarray:
        """``[bank_clips, bank_samples]`` recordings of one instrument (made once, fixed seed)."""
        if instrument not in self._banks:
            rng = np.random.default_rng([777, instrument])
            self._banks[instrument] = np.stack([self._render(rng, instrument, self.bank_samples)
                                                for _ in range(self.bank_clips)])
        return self._banks[instrument]

    def _crop(self, rng: np.random.Generator, instrument: int, n: int, exclude: int = -1) -> tuple[np.ndarray, int]:
        bank = self._bank(instrument)
        choices = [c for c in range(len(bank)) if c != exclude]
        clip = int(choices[int(rng.integers(len(choices)))])
        start = int(rng.integers(0, self.bank_samples - n + 1))
        return bank[clip, start:start + n].copy(), clip

    def _render(self, rng: np.random.Generator, instrument: int, n: int) -> np.ndarray:
        timbre = self.timbres[instrument]
        t_all = np.arange(n) / SAMPLE_RATE
        out = np.zeros(n, np.float64)
        pos = 0
        while pos < n:
            length = int(rng.uniform(0.15, 0.6) * SAMPLE_RATE)
            seg = min(length, n - pos)
            t = t_all[:seg]
            f0 = 440.0 * 2 ** ((rng.uniform(timbre["low"], timbre["high"]) - 69) / 12)
            env = np.minimum(t / timbre["attack"], 1.0) * np.exp(-t * timbre["decay"])
            tone = np.zeros(seg)
            for h, amp in enumerate(timbre["profile"], start=1):
                if f0 * h < SAMPLE_RATE / 2 - 1000:
                    tone += amp * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
            if timbre["noise"]:
                tone += timbre["noise"] * rng.standard_normal(seg)
            out[pos:pos + seg] += tone * env
            pos += length
        peak = np.abs(out).max() + 1e-9
        return (0.3 * out / peak).astype(np.float32)

    def episode(self, index: int) -> Episode:
        """The ``index``-th episode."""
        rng = np.random.default_rng([self.seed, int(index)])
        target_inst = int(rng.integers(self.n_instruments))
        n_inter = int(rng.integers(self.n_interferers[0], self.n_interferers[1] + 1))
        others = [i for i in range(self.n_instruments) if i != target_inst]
        inter_inst = [int(i) for i in rng.permutation(others)[:n_inter]]
        n = self.clip_samples
        target, target_clip = self._crop(rng, target_inst, n)
        target_gain_db = float(rng.uniform(-6, 6))
        target = target * np.float32(10 ** (target_gain_db / 20))
        crops, inter_gains_db = [], []
        for instrument in inter_inst:  # crop then gain per interferer (the stream's draw order)
            crops.append(self._crop(rng, instrument, n)[0])
            inter_gains_db.append(float(rng.uniform(-9, 3)))
        interferers = np.stack([c * np.float32(10 ** (g / 20)) for c, g in zip(crops, inter_gains_db)]).astype(np.float32)
        k = int(rng.integers(self.k_range[0], self.k_range[1] + 1))
        # support from other "recordings" than the one in the mixture
        support = np.stack([self._crop(rng, target_inst, self.support_samples, exclude=target_clip)[0]
                            for _ in range(k)])
        neg_inst = -1
        negatives = np.zeros((0, self.support_samples), np.float32)
        if rng.random() < self.negative_prob:
            neg_inst = inter_inst[int(rng.integers(len(inter_inst)))]
            count = int(rng.integers(self.negatives_range[0], self.negatives_range[1] + 1))
            negatives = np.stack([self._crop(rng, neg_inst, self.support_samples)[0] for _ in range(count)])
        mixture = (target + interferers.sum(0)).astype(np.float32)
        work = f"synthetic-{int(index)}"
        return Episode(mixture=mixture, target=target.astype(np.float32), interferers=interferers,
                       support=support.astype(np.float32), negatives=negatives.astype(np.float32),
                       target_instrument=target_inst, soundfont="synthetic", work_id=work, coherent=False,
                       interferer_instruments=inter_inst, interferer_work_ids=[work] * len(inter_inst),
                       support_work_ids=[work] * k, negative_instrument=neg_inst,
                       negative_work_ids=[work] * len(negatives), gains_db=[target_gain_db] + inter_gains_db,
                       target_start_s=0.0, seed=self.seed, index=int(index))
