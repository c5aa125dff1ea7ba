"""Audio file I/O shared by every run-time layer (numpy, pedalboard, soundfile; resampling is fewshot_sep.realtime.resampler).

Arrays are float32 ``[channels, n_samples]`` in [-1, 1] unless a docstring says
otherwise; sample rates are in Hz.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from fewshot_sep.utils.atomic import atomic_path
from fewshot_sep.utils.errors import UserError
from fewshot_sep.utils.jsonfile import file_kind



@dataclass(frozen=True)
class AudioFormat:
    """A file format the project reads and writes (pedalboard.io picks the codec from the extension).

    Attributes:
        name: what messages call it ("FLAC").
        extensions: lower-case file extensions with the dot, the usual one first.
        bit_depths: PCM bit depths the writer may use, ascending (32 = float samples);
            empty for lossy codecs, which are written at their codec's default quality.
    """

    name: str
    extensions: tuple[str, ...]
    bit_depths: tuple[int, ...] = ()

    @property
    def pcm(self) -> bool:
        """True for formats written as PCM with a bit depth."""
        return bool(self.bit_depths)

    def bit_depth_for(self, requested: int) -> int | None:
        """The bit depth a file of this format gets when `requested` is asked for.

        None for lossy codecs; otherwise `requested`, lowered to the deepest the format
        has (FLAC and AIFF have no float samples: 32 gives 24-bit files, as for 24).
        """
        if not self.pcm:
            return None
        return min(int(requested), self.bit_depths[-1])


#: The one table of audio formats, in the order messages list them.
AUDIO_FORMATS: tuple[AudioFormat, ...] = (
    AudioFormat("WAV", (".wav",), (16, 24, 32)),
    AudioFormat("FLAC", (".flac",), (16, 24)),
    AudioFormat("OGG", (".ogg",)),
    AudioFormat("MP3", (".mp3",)),
    AudioFormat("AIFF", (".aiff", ".aif"), (16, 24)),
)
#: Extensions picked up as input when a folder is given.
READABLE_EXTENSIONS = tuple(ext for f in AUDIO_FORMATS for ext in f.extensions)
#: Extensions we can write.
WRITABLE_EXTENSIONS = READABLE_EXTENSIONS
#: Extensions written as PCM with a bit depth (the others are lossy codecs).
PCM_EXTENSIONS = tuple(ext for f in AUDIO_FORMATS if f.pcm for ext in f.extensions)
#: "WAV, FLAC, OGG, MP3 or AIFF", for messages.
FORMAT_NAMES = ", ".join(f.name for f in AUDIO_FORMATS[:-1]) + f" or {AUDIO_FORMATS[-1].name}"


def audio_format(path: str | os.PathLike) -> AudioFormat | None:
    """The format of `path` by its extension (case-insensitive), None if it is not an audio file we know."""
    suffix = Path(path).suffix.lower()
    return next((f for f in AUDIO_FORMATS if suffix in f.extensions), None)


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
        raise UserError(f"{str(path)!r} is {kind}, not an audio file: give a {FORMAT_NAMES} file")
    try:
        return AudioFile(str(path))
    except Exception as err:  # pedalboard raises ValueError/RuntimeError for unreadable files
        raise UserError(
            f"cannot read {str(path)!r} as audio ({err}); use {FORMAT_NAMES}"
        ) from err


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """Return ``(sample_rate, num_channels, num_frames)`` of an audio file without reading it."""
    with _open_reader(Path(path)) as f:
        return int(round(f.samplerate)), int(f.num_channels), int(f.frames)


def read_audio(
    path: str | os.PathLike, segment: tuple[float, float] | None = None
) -> tuple[np.ndarray, int]:
    """Read an audio file (any format pedalboard.io reads: those of AUDIO_FORMATS and more).

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


def check_writable_extension(path: str | os.PathLike) -> None:
    """Raise UserError unless `path` has an extension we can write."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITABLE_EXTENSIONS:
        raise UserError(
            f"cannot write {str(path)!r}: unknown output format {suffix or '(none)'!r}; "
            f"use one of {', '.join(WRITABLE_EXTENSIONS)}"
        )


class AudioWriter:
    """Writes ``[channels, n]`` float32 blocks to one audio file, in order (pedalboard.io).

    Args:
        path: where to write now; usually the temp path of :func:`fewshot_sep.utils.atomic.atomic_path`,
            which keeps the target's extension.
        target: the file `path` becomes; its extension picks the format and messages name it.
        sample_rate: Hz; channels: 1 or more.
        bit_depth: for PCM formats (:data:`AUDIO_FORMATS`), 16, 24 or 32 (32 = float WAV;
            FLAC and AIFF take 24 at most); lossy formats ignore it.

    Raises:
        UserError: an extension that is not in :data:`AUDIO_FORMATS`, or settings the codec
            refuses (e.g. a rate MP3 cannot store).
    """

    def __init__(self, path: str | os.PathLike, target: str | os.PathLike, sample_rate: float, channels: int,
                 bit_depth: int = 24) -> None:
        from pedalboard.io import AudioFile

        check_writable_extension(target)
        depth = audio_format(target).bit_depth_for(bit_depth)
        kwargs = {} if depth is None else {"bit_depth": depth}
        try:
            self._file = AudioFile(str(path), "w", samplerate=sample_rate, num_channels=channels, **kwargs)
        except Exception as err:  # pedalboard raises ValueError/RuntimeError for unsupported settings
            raise UserError(
                f"cannot write {str(target)!r} at {sample_rate} Hz with {channels} channel(s): {err}; "
                "try a .wav or .flac output"
            ) from err

    def write(self, audio: np.ndarray) -> None:
        """Append ``[channels, n]`` samples (any float dtype; converted to float32)."""
        if audio.shape[1]:
            self._file.write(np.ascontiguousarray(audio, dtype=np.float32))

    def close(self) -> None:
        """Finish the file (flushes the codec); call it before the temp file is renamed."""
        self._file.close()

    def __enter__(self) -> "AudioWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def write_audio(
    path: str | os.PathLike, audio: np.ndarray, sample_rate: float, bit_depth: int = 24
) -> None:
    """Write ``[channels, n]`` audio to `path` atomically; the format follows the extension.

    PCM formats (WAV, FLAC, AIFF) are written with `bit_depth` bits (24 by default;
    32 gives float WAV, and 24-bit FLAC/AIFF, which have no float samples); lossy formats
    use their codec's default quality. The same writer as ``fewshot-sep separate``
    (:class:`AudioWriter`).
    """
    check_writable_extension(path)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.ndim != 2:
        raise ValueError(f"audio must be [channels, n], got shape {audio.shape}")
    with atomic_path(path) as tmp:
        with AudioWriter(tmp, path, sample_rate, audio.shape[0], bit_depth) as writer:
            writer.write(audio)
