"""Helpers for the plugin-host tests: band-limited test signals and gain-double presets.

The gain model double's mask is ``clip(conditioning[0], 0, 1)``; the conditioning
vector starts with the preset's mean positive embedding, so a preset whose mean
embedding has first element ``g`` makes the separator a plain gain ``g``
("isolate") or ``1 - g`` ("remove"), delayed by the latency.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def tapered_tones(
    seconds: float,
    sample_rate: int,
    channels: int = 1,
    freqs: tuple[float, ...] = (220.0, 1234.5, 3456.7),
    seed: int = 0,
) -> np.ndarray:
    """``[channels, n]`` float32 sum of sines with random phases, 20 ms raised-cosine fades.

    The fades keep the signal band-limited (no step at the ends), so resampling
    round trips are accurate over the whole signal, edges included.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    out = np.zeros((channels, n))
    for c in range(channels):
        for f in freqs:
            out[c] += np.sin(2 * np.pi * f * (1 + 0.01 * c) * t + rng.uniform(0, 2 * np.pi))
    fade = min(n // 2, int(0.02 * sample_rate))
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        out[:, :fade] *= ramp
        out[:, n - fade :] *= ramp[::-1]
    return (0.25 * out).astype(np.float32)


def noise(seconds: float, sample_rate: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """``[channels, n]`` float32 white noise at 0.1 RMS (broadband: a strict identity check)."""
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, int(round(seconds * sample_rate))))).astype(np.float32)


def gain_vector(gain: float, dim: int) -> np.ndarray:
    """Conditioning ``[dim]`` for the gain double: mask = clip(gain, 0, 1)."""
    vector = np.zeros(dim, dtype=np.float32)
    vector[0] = gain
    return vector


def make_gain_preset(folder: Path, model, gain: float, name: str = "gain", mode: str = "isolate", mix: float = 1.0):
    """Save a valid preset for `model` whose conditioning makes the gain double apply `gain`.

    Returns the preset file's path.
    """
    from fewshot_sep.presets import ClipRecord, EmbeddingSum, Preset, save_preset

    embedding = np.zeros(int(model.embedding_dim), dtype=np.float32)
    embedding[0] = gain
    positive = EmbeddingSum()
    positive.add(embedding[np.newaxis, :])
    clip = ClipRecord(
        file=f"{name}.wav",
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        segment=None,
        duration_s=3.0,
        n_clips=1,
        n_skipped=0,
        role="positive",
        sample_rate=44100,
        channels=1,
    )
    preset = Preset(
        name=name,
        model_id=model.model_id,
        embedding_dim=int(model.embedding_dim),
        positive=positive,
        clips=[clip],
        default_mode=mode,
        default_mix=mix,
    )
    return save_preset(preset, Path(folder) / f"{name}.json")
