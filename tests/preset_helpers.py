"""Small synthetic example clips for the preset tests (no network, no rendering), and a preset
made without an encoder (`synthetic_preset`).

Two deliberately different timbres: a dark harmonic tone (strong low partials)
and bright noise (energy high in the spectrum), so the encoder double, which
looks at the mean log spectrum, tells them apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from fewshot_sep.presets import EmbeddingSum, Preset
from fewshot_sep.presets.format import ClipRecord


def dark_tone(freq: float, seconds: float, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """``[n]`` float32: harmonic tone at `freq` Hz, partial k at amplitude 1/k^2, peak 0.5, light vibrato."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    phase = 2 * np.pi * freq * (t + 0.002 * np.sin(2 * np.pi * 5 * t))
    out = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**2 for k in range(1, 12))
    out = out * (0.8 + 0.2 * np.sin(2 * np.pi * 0.5 * t) ** 2)
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


def bright_noise(seconds: float, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """``[n]`` float32: white noise differentiated twice (a strong high-frequency tilt), peak 0.5."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(round(seconds * sample_rate)) + 2)
    x = np.diff(x, n=2)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def write(path: Path, audio: np.ndarray, sample_rate: int = 44100, subtype: str | None = None) -> Path:
    """Write ``[n]`` or ``[channels, n]`` audio with soundfile (format from the extension)."""
    audio = np.asarray(audio, dtype=np.float32)
    data = audio.T if audio.ndim == 2 else audio
    sf.write(str(path), data, sample_rate, subtype=subtype)
    return Path(path)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32), as the encoder's L2-normalised embeddings are."""
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def synthetic_preset(dim: int = 16, negatives: bool = True) -> Preset:
    """A preset with awkward float values (no encoder needed), embeddings of unit length."""
    rng = np.random.default_rng(7)
    pos = EmbeddingSum()
    pos.add(unit_rows(rng.standard_normal((5, dim)) * 1e-3 + 1 / 3))
    neg = EmbeddingSum()
    clips = [ClipRecord("a b.wav", "a" * 64, (1.25, None), 7.5, 5, 0, "positive", 48000, 2)]
    if negatives:
        neg.add(unit_rows(rng.standard_normal((3, dim)) * 1e7))
        clips.append(ClipRecord("n.flac", "b" * 64, None, 3.0, 3, 1, "negative", 22050, 1))
    return Preset(name="round trip", model_id="0123456789abcdef", embedding_dim=dim, positive=pos, negative=neg,
                  clips=clips, default_mode="remove", default_mix=0.3, description="ünïcode ✓")
