"""Production processing as in real mixes: an effect chain per stem, bus compression and a limiter.

Each stem goes through a random chain drawn per episode (EQ, compression,
amp-style distortion on guitars and synths, chorus, delay, stereo panning and
width, reverb; pedalboard's effects), which turns a mono dry stem ``[n]`` into
a stereo processed stem ``[2, n]``. The mix bus then applies a compressor and
a limiter. Both bus stages are computed as a gain curve ``[n]`` from the
summed mix and applied to every processed stem, so the processed stems still
sum to the processed mixture exactly: the separation reference is the
processed stem, time-aligned (no effect here adds latency).

Parameters are drawn into plain dicts (JSON-serialisable, recorded per episode)
and applied by pure functions: same parameters, same audio.
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.data.gm import is_drum
from fewshot_sep.data.synth import SAMPLE_RATE

DISTORTED_PROGRAMS = frozenset(range(24, 32)) | frozenset(range(80, 96))
"""Guitars (24-31) and synth leads and pads (80-95) may get amp-style distortion."""
BUS_BLOCK = 64
"""Samples per step of the bus gain computers (gains are interpolated between steps)."""


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 4)


def draw_stem_chain(rng: np.random.Generator, instrument: int) -> dict:
    """Random effect-chain parameters for one stem of `instrument` (a JSON-able dict)."""
    chain: dict = {"eq": {
        "highpass_hz": _u(rng, 20, 160) if rng.random() < 0.6 else None,
        "low_shelf_db": _u(rng, -4, 4), "peak_hz": _u(rng, 200, 5000), "peak_db": _u(rng, -6, 6),
        "peak_q": _u(rng, 0.7, 2.0), "high_shelf_db": _u(rng, -5, 4),
        "lowpass_hz": _u(rng, 6000, 16000) if rng.random() < 0.3 else None,
    }}
    if rng.random() < 0.6:
        chain["compressor"] = {"threshold_db": _u(rng, -30, -10), "ratio": _u(rng, 2, 6),
                               "attack_ms": _u(rng, 1, 30), "release_ms": _u(rng, 50, 300)}
    if not is_drum(instrument) and instrument in DISTORTED_PROGRAMS and rng.random() < 0.6:
        chain["distortion"] = {"drive_db": _u(rng, 6, 28), "cabinet_hz": _u(rng, 2500, 7000)}
    if rng.random() < 0.35:
        chain["chorus"] = {"rate_hz": _u(rng, 0.3, 2.0), "depth": _u(rng, 0.1, 0.4), "mix": _u(rng, 0.2, 0.5)}
    if rng.random() < 0.3:
        chain["delay"] = {"seconds": _u(rng, 0.08, 0.5), "feedback": _u(rng, 0.1, 0.45), "mix": _u(rng, 0.08, 0.3)}
    chain["pan"] = _u(rng, -0.8, 0.8) if not is_drum(instrument) else _u(rng, -0.2, 0.2)
    chain["width"] = {"amount": _u(rng, 0.0, 0.35), "ms": _u(rng, 5, 20)}
    if rng.random() < 0.75:
        chain["reverb"] = {"room_size": _u(rng, 0.1, 0.9), "damping": _u(rng, 0.2, 0.8),
                           "wet": _u(rng, 0.05, 0.35), "width": _u(rng, 0.5, 1.0)}
    return chain


def _board_mono(chain: dict):
    import pedalboard as pb

    eq = chain["eq"]
    plugins = []
    if eq["highpass_hz"]:
        plugins.append(pb.HighpassFilter(cutoff_frequency_hz=eq["highpass_hz"]))
    plugins += [pb.LowShelfFilter(cutoff_frequency_hz=180.0, gain_db=eq["low_shelf_db"]),
                pb.PeakFilter(cutoff_frequency_hz=eq["peak_hz"], gain_db=eq["peak_db"], q=eq["peak_q"]),
                pb.HighShelfFilter(cutoff_frequency_hz=6000.0, gain_db=eq["high_shelf_db"])]
    if eq["lowpass_hz"]:
        plugins.append(pb.LowpassFilter(cutoff_frequency_hz=eq["lowpass_hz"]))
    if "compressor" in chain:
        c = chain["compressor"]
        plugins.append(pb.Compressor(threshold_db=c["threshold_db"], ratio=c["ratio"], attack_ms=c["attack_ms"],
                                     release_ms=c["release_ms"]))
    if "distortion" in chain:
        d = chain["distortion"]
        # drive, then a cabinet-like low-pass, then back to about the input level
        plugins += [pb.Distortion(drive_db=d["drive_db"]), pb.LowpassFilter(cutoff_frequency_hz=d["cabinet_hz"]),
                    pb.Gain(gain_db=-0.6 * d["drive_db"])]
    if "chorus" in chain:
        c = chain["chorus"]
        plugins.append(pb.Chorus(rate_hz=c["rate_hz"], depth=c["depth"], mix=c["mix"]))
    if "delay" in chain:
        d = chain["delay"]
        plugins.append(pb.Delay(delay_seconds=d["seconds"], feedback=d["feedback"], mix=d["mix"]))
    return pb.Pedalboard(plugins)


def apply_stem_chain(chain: dict, audio: np.ndarray) -> np.ndarray:
    """Process a mono stem ``[n]`` float32 at 44.1 kHz with `chain`: float32 ``[2, n]``."""
    import pedalboard as pb

    x = np.ascontiguousarray(audio, np.float32)[None]
    mono = _board_mono(chain)(x, SAMPLE_RATE)[0]
    n = mono.shape[0]
    angle = (chain["pan"] + 1.0) * np.pi / 4  # constant-power pan
    left, right = np.cos(angle) * mono, np.sin(angle) * mono
    width = chain["width"]
    lag = int(round(width["ms"] * 1e-3 * SAMPLE_RATE))
    if width["amount"] > 0 and lag < n:  # a delayed copy in the side channel widens the image
        side = np.zeros(n, np.float32)
        side[lag:] = mono[: n - lag] * width["amount"]
        left, right = left + side, right - side
    stereo = np.stack([left, right]).astype(np.float32)
    if "reverb" in chain:
        r = chain["reverb"]
        reverb = pb.Reverb(room_size=r["room_size"], damping=r["damping"], wet_level=r["wet"],
                           dry_level=1.0 - 0.5 * r["wet"], width=r["width"])
        stereo = reverb(stereo, SAMPLE_RATE)
    return np.ascontiguousarray(stereo, np.float32)


def draw_bus(rng: np.random.Generator) -> dict:
    """Random mix-bus parameters: a glue compressor and a limiter (a JSON-able dict)."""
    return {"threshold_below_peak_db": _u(rng, 6, 16), "ratio": _u(rng, 1.5, 4.0), "attack_ms": _u(rng, 5, 30),
            "release_ms": _u(rng, 80, 300), "limiter_ceiling_db": _u(rng, -3.0, -0.3),
            "limiter_drive_db": _u(rng, 0.0, 6.0), "limiter_release_ms": _u(rng, 30, 120)}


def _smooth(level_db: np.ndarray, attack_ms: float, release_ms: float) -> np.ndarray:
    """Attack/release smoothing of a per-block level in dB (rises with attack, falls with release)."""
    step_s = BUS_BLOCK / SAMPLE_RATE
    a_att = np.exp(-step_s / (attack_ms * 1e-3)) if attack_ms > 0 else 0.0  # 0 ms: instant
    a_rel = np.exp(-step_s / max(release_ms * 1e-3, step_s))
    out = np.empty_like(level_db)
    state = level_db[0]
    for i, value in enumerate(level_db):
        coef = a_att if value > state else a_rel
        state = coef * state + (1.0 - coef) * value
        out[i] = state
    return out


def bus_gain(bus: dict, mix: np.ndarray) -> np.ndarray:
    """Gain curve ``[n]`` (linear) of the bus compressor and limiter for a stereo mix ``[2, n]``.

    The compressor works on the block RMS (threshold relative to the loudest
    block), the limiter on the block peak after the compressor and the drive
    gain; gains are interpolated linearly between block centres.
    """
    n = mix.shape[-1]
    blocks = max(1, int(np.ceil(n / BUS_BLOCK)))
    padded = np.zeros((mix.shape[0], blocks * BUS_BLOCK), np.float64)
    padded[:, :n] = mix
    framed = padded.reshape(mix.shape[0], blocks, BUS_BLOCK)
    rms_db = 10 * np.log10(np.mean(framed ** 2, axis=(0, 2)) + 1e-12)
    threshold = float(rms_db.max()) - bus["threshold_below_peak_db"]
    level = _smooth(rms_db, bus["attack_ms"], bus["release_ms"])
    comp_db = -np.maximum(level - threshold, 0.0) * (1.0 - 1.0 / bus["ratio"])
    peak_db = 20 * np.log10(np.abs(framed).max(axis=(0, 2)) + 1e-12) + comp_db + bus["limiter_drive_db"]
    over = np.maximum(peak_db - bus["limiter_ceiling_db"], 0.0)
    limit_db = -_smooth(over, 0.0, bus["limiter_release_ms"])  # instant attack, smooth release
    gain_db = comp_db + bus["limiter_drive_db"] + limit_db
    centres = (np.arange(blocks) + 0.5) * BUS_BLOCK
    return np.interp(np.arange(n), centres, 10 ** (gain_db / 20)).astype(np.float32)


def produce_episode(ep, rng: np.random.Generator, preroll: int = 0, process_support: bool = True,
                    downmix: bool = False):
    """Process an episode (`fewshot_sep.data.episodes.Episode`) like a produced mix, in place.

    Each source gets its own chain, the bus gain comes from their sum, the first
    `preroll` samples (effect tails only) are cut: target ``[2, n]``, interferers
    ``[m, 2, n]``, mixture = their sum. Support clips (with `process_support`) go
    through the target's chain and negatives through their instrument's chain when it
    is in the mix, both downmixed to mono ``[k, m]`` as presets do. `downmix`: mono
    ``[n]`` / ``[m, n]`` sources too (a mono model's training episode). The parameters
    are stored in ``ep.stems["production"]``. Returns `ep`.
    """
    chains = [draw_stem_chain(rng, ep.target_instrument)]
    chains += [draw_stem_chain(rng, inst) for inst in ep.interferer_instruments]
    target = apply_stem_chain(chains[0], ep.target)
    interferers = np.stack([apply_stem_chain(ch, x) for ch, x in zip(chains[1:], ep.interferers)]) \
        if len(ep.interferers) else np.zeros((0, *target.shape), np.float32)
    bus = draw_bus(rng)
    gain = bus_gain(bus, target + interferers.sum(axis=0))
    target, interferers = (target * gain)[:, preroll:], (interferers * gain)[:, :, preroll:]
    if downmix:
        target, interferers = target.mean(axis=0), interferers.mean(axis=1)
    ep.target, ep.interferers = target, interferers
    ep.mixture = target + interferers.sum(axis=0)

    def processed(clips: np.ndarray, chain: dict) -> np.ndarray:
        return np.stack([apply_stem_chain(chain, c).mean(axis=0) for c in clips]) if len(clips) else clips

    if process_support:
        ep.support = processed(ep.support, chains[0])
    if len(ep.negatives) and ep.negative_instrument in ep.interferer_instruments:
        ep.negatives = processed(ep.negatives, chains[ep.interferer_instruments.index(ep.negative_instrument) + 1])
    ep.stems = {**ep.stems, "production": {"stems": chains, "bus": bus}}
    return ep


class ProducedEpisodes:
    """An episode source whose episodes get `produce_episode` (no pre-roll) with
    probability `prob`: training on produced mixes. ``episode(i)`` stays a pure function
    of (the wrapped source, `prob`, `seed`, `stereo`, i); with ``prob = 0`` it is the wrapped
    source's.

    Mono (default): produced sources are downmixed (a mono model's episode). `stereo`: the
    episode is seen from one channel of the stereo production, drawn at random: target,
    interferers and mixture ``[n]`` are that channel's and ``mixture_other [n]`` is the other
    channel's mixture (what a ``model.stereo_input`` separator reads beside its own channel).
    The production parameters do not depend on `stereo`."""

    def __init__(self, source, prob: float, seed: int, stereo: bool = False) -> None:
        if not 0.0 <= prob <= 1.0:
            from fewshot_sep.utils.errors import UserError

            raise UserError(f"data.production.prob {prob} is invalid: use 0..1 (share of produced episodes)")
        self.source, self.prob, self.seed, self.stereo = source, float(prob), int(seed), bool(stereo)

    def episode(self, index: int):
        ep = self.source.episode(index)
        if self.prob > 0:
            rng = np.random.default_rng([self.seed, int(index), 8111])
            if rng.random() < self.prob:
                produce_episode(ep, rng, downmix=not self.stereo)
                if self.stereo:
                    own = int(rng.integers(2))
                    ep.mixture_other = np.ascontiguousarray(ep.mixture[1 - own])
                    ep.target, ep.mixture = ep.target[own], ep.mixture[own]
                    ep.interferers = np.ascontiguousarray(ep.interferers[:, own])
        return ep

    def __getattr__(self, name: str):  # the wrapped sampler's other API (rows, load_into_memory, ...)
        return getattr(self.source, name)


__all__ = ["ProducedEpisodes", "draw_stem_chain", "apply_stem_chain", "draw_bus", "bus_gain", "produce_episode", "DISTORTED_PROGRAMS"]
