"""Audio file I/O shared by every run-time layer (numpy, pedalboard, soundfile, soxr).

Arrays are float32 ``[channels, n_samples]`` in [-1, 1] unless a docstring says
otherwise; sample rates are in Hz.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from fewshot_sep.utils.atomic import atomic_path
from fewshot_sep.utils.errors import UserError
from fewshot_sep.utils.jsonfile import file_kind

#: Extensions we can write (pedalboard.io picks the codec from the extension).
WRITABLE_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def _open_reader(path: Path):
    """Open `path` with pedalboard.io, turning every failure into a UserError."""
    from pedalboard.io import AudioFile

    if not path.exists():
        raise UserError(f"audio file {str(path)!r} does not exist: check the path")
    if path.is_dir():
        raise UserError(f"{str(path)!r} is a folder, not an audio file")
    # A FIFO, device or socket would block the decoder (holding the GIL) or read forever.
    kind = file_kind(path.stat().st_mode)
    if kind is not None:
        raise UserError(f"{str(path)!r} is {kind}, not an audio file: give a WAV, FLAC, OGG, MP3 or AIFF file")
    try:
        return AudioFile(str(path))
    except Exception as err:  # pedalboard raises ValueError/RuntimeError for unreadable files
        raise UserError(
            f"cannot read {str(path)!r} as audio ({err}); use WAV, FLAC, OGG, MP3 or AIFF"
        ) from err


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """Return ``(sample_rate, num_channels, num_frames)`` of an audio file without reading it."""
    with _open_reader(Path(path)) as f:
        return int(round(f.samplerate)), int(f.num_channels), int(f.frames)


def read_audio(
    path: str | os.PathLike, segment: tuple[float, float] | None = None
) -> tuple[np.ndarray, int]:
    """Read an audio file (any format pedalboard.io reads: WAV, FLAC, OGG, MP3, AIFF...).

    Args:
        path: the file.
        segment: optional ``(start_s, end_s)`` in seconds; ``end_s`` may be ``math.inf``.

    Returns:
        ``(audio [channels, n] float32, sample_rate)``.

    Raises:
        UserError: missing/unreadable file, or a segment outside the file.
    """
    path = Path(path)
    with _open_reader(path) as f:
        sr = int(round(f.samplerate))
        total = int(f.frames)
        start, stop = 0, total
        if segment is not None:
            start_s, end_s = segment
            duration = total / sr
            if not (0 <= start_s < end_s) or start_s >= duration:
                raise UserError(
                    f"segment {start_s:g}-{end_s:g} s of {str(path)!r} is invalid: the file is "
                    f"{duration:.2f} s long; give START-END with 0 <= START < END <= {duration:.2f}"
                )
            start = int(round(start_s * sr))
            stop = total if math.isinf(end_s) else min(total, int(round(end_s * sr)))
        if stop <= start:  # pedalboard refuses read(0): an empty file gives an empty array
            return np.zeros((int(f.num_channels), 0), dtype=np.float32), sr
        f.seek(start)
        audio = f.read(stop - start)
    return np.ascontiguousarray(audio, dtype=np.float32), sr


def iter_audio_chunks(
    path: str | os.PathLike, chunk_frames: int
) -> Iterator[np.ndarray]:
    """Yield ``[channels, <= chunk_frames]`` float32 chunks of a file, in order.

    Memory stays bounded by one chunk, whatever the file's length.
    """
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    with _open_reader(Path(path)) as f:
        while f.tell() < f.frames:
            yield np.ascontiguousarray(f.read(chunk_frames), dtype=np.float32)


def resample(audio: np.ndarray, sr_from: float, sr_to: float) -> np.ndarray:
    """Resample ``[channels, n]`` audio from `sr_from` to `sr_to` Hz (soxr, high quality).

    Offline (whole-signal, delay-compensated by soxr); returns ``[channels, m]`` float32.
    """
    if sr_from == sr_to:
        return np.asarray(audio, dtype=np.float32)
    import soxr

    out = soxr.resample(np.asarray(audio, dtype=np.float32).T, sr_from, sr_to, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


def check_writable_extension(path: str | os.PathLike) -> None:
    """Raise UserError unless `path` has an extension we can write."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITABLE_EXTENSIONS:
        raise UserError(
            f"cannot write {str(path)!r}: unknown output format {suffix or '(none)'!r}; "
            f"use one of {', '.join(WRITABLE_EXTENSIONS)}"
        )


#: Extensions written as PCM with a bit depth (the others are lossy codecs).
_PCM_EXTENSIONS = (".wav", ".flac", ".aiff", ".aif")


def write_audio(
    path: str | os.PathLike, audio: np.ndarray, sample_rate: float, bit_depth: int = 24
) -> None:
    """Write ``[channels, n]`` audio to `path` atomically; the format follows the extension.

    PCM formats (WAV, FLAC, AIFF) are written with `bit_depth` bits (24 by default;
    32 gives float WAV); lossy formats use their codec's default quality.
    """
    from pedalboard.io import AudioFile

    check_writable_extension(path)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.ndim != 2:
        raise ValueError(f"audio must be [channels, n], got shape {audio.shape}")
    with atomic_path(path) as tmp:
        kwargs = {"bit_depth": bit_depth} if Path(path).suffix.lower() in _PCM_EXTENSIONS else {}
        with AudioFile(
            str(tmp), "w", samplerate=sample_rate, num_channels=audio.shape[0], **kwargs
        ) as f:
            f.write(audio)
