"""Compact lossy copies of stems (Ogg Vorbis), for carrying training data where it cannot be
rendered (``scripts/device_data.py``). Module-level functions so worker processes can run them."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from fewshot_sep.data.manifest import SAMPLE_RATE
from fewshot_sep.utils.atomic import atomic_path

_BLOCK = 32768


def encode_vorbis(path: str, quality: float) -> bytes:
    """The FLAC stem at ``path`` (44.1 kHz mono) as Ogg Vorbis bytes; ``quality`` is
    libsndfile's compression level, 0 (best) .. 1 (smallest)."""
    import soundfile as sf

    audio, rate = sf.read(path, dtype="float32", always_2d=False)
    if rate != SAMPLE_RATE or audio.ndim != 1:
        raise ValueError(f"{path}: {rate} Hz, shape {audio.shape}; expected mono {SAMPLE_RATE} Hz")
    buf = io.BytesIO()
    # In blocks: libsndfile 1.2's Vorbis encoder crashes on one write of a few million samples.
    with sf.SoundFile(buf, "w", SAMPLE_RATE, 1, format="OGG", subtype="VORBIS", compression_level=quality) as fh:
        for start in range(0, len(audio), _BLOCK):
            fh.write(audio[start: start + _BLOCK])
    return buf.getvalue()


def decode_int16(path: str, num_samples: int) -> np.ndarray:
    """An Ogg (or any soundfile-readable) stem as int16 ``[num_samples]``, zero-padded or cut
    to that length, on the int16 scale soundfile uses for FLAC (float * 32768)."""
    import soundfile as sf

    audio, _ = sf.read(path, dtype="float32", always_2d=False)
    out = np.zeros(num_samples, np.int16)
    n = min(num_samples, len(audio))
    out[:n] = np.clip(np.round(audio[:n] * 32768.0), -32768, 32767).astype(np.int16)
    return out


def decode_cached(ogg: str, num_samples: int, cache: str) -> np.ndarray:
    """:func:`decode_int16`, kept as ``cache`` (``.npy``) so that a later unpack (a later call
    that carried more parts) reads it instead of decoding it again."""
    if os.path.isfile(cache):
        return np.load(cache)
    audio = decode_int16(ogg, num_samples)
    with atomic_path(Path(cache)) as tmp:
        np.save(tmp, audio, allow_pickle=False)
    return audio


def decode_to_cache(ogg: str, num_samples: int, cache: str) -> int:
    """Decode into ``cache`` unless it is there; 1 if it decoded."""
    if os.path.isfile(cache):
        return 0
    decode_cached(ogg, num_samples, cache)
    return 1
