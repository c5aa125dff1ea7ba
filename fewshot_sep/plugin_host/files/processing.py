"""Separate audio files with bounded memory: chunked reading, streaming, atomic writing.

A file is read in chunks (``iter_audio_chunks``), streamed through a processor
(:class:`FewShotSeparator` or :class:`Chain`) with ``reset=False``, and written
chunk by chunk to a temporary file beside the target, renamed onto the target
at the end (so an error never leaves a partial output). Alignment: the first
``latency_samples`` output samples (start-up silence) are dropped and the end is
flushed with zeros, so the output has exactly the input's length and is aligned
with it — equal to processing the whole file at once with ``reset=True``.

Memory is bounded by the chunk size (default 2**16 frames), whatever the file's
length. The output has the input's sample rate and channel count; its format
follows the output path's extension.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from fewshot_sep.contract.signal import SAMPLE_RATE
from fewshot_sep.realtime.alignment import LatencyTrim
from fewshot_sep.realtime.resampler import FileRateStream
from fewshot_sep.utils.atomic import atomic_path
from fewshot_sep.utils.audio import (  # noqa: F401 - the extension lists stay importable from here
    PCM_EXTENSIONS,
    READABLE_EXTENSIONS,
    audio_info,
    check_writable_extension,
    iter_audio_chunks,
)
from fewshot_sep.utils.audio import AudioWriter as _Writer  # the one writer (utils.audio)
from fewshot_sep.utils.errors import UserError

DEFAULT_CHUNK_FRAMES = 1 << 16
RESIDUAL_NAME = "residual"

ProgressCallback = Callable[[float, float], None]


class StreamProcessor(Protocol):
    """What file processing needs from a processor (FewShotSeparator and Chain have it)."""

    latency_samples: int

    def reset(self) -> None: ...

    def process_channels_first(
        self, audio: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
    ) -> np.ndarray: ...


class _Identity:
    """The input itself, as a zero-latency processor (the residual needs it aligned)."""

    latency_samples = 0

    def reset(self) -> None:
        pass

    def process_channels_first(self, audio, sample_rate, buffer_size=8192, reset=True):
        return audio


class _AlignedOutput:
    """Collects one processor's streamed output, dropping its start-up latency."""

    def __init__(self, processor: StreamProcessor) -> None:
        self.processor = processor
        self.trim = LatencyTrim()
        self.pending: deque[np.ndarray] = deque()
        self.available = 0

    def owed_latency(self) -> int:
        return self.trim.owed(self.processor.latency_samples)

    def feed(self, audio: np.ndarray, sample_rate: int, buffer_size: int) -> None:
        out = self.processor.process_channels_first(audio, sample_rate, buffer_size, reset=False)
        # latency_samples is read after the call: engines are built on first use, and a
        # chain's latent native stages only know their delay once output arrives.
        out = self.trim(out, self.processor.latency_samples)
        if out.shape[1]:
            piece = np.array(out, dtype=np.float32)  # own copy: engines reuse buffers
            self.pending.append(piece)
            self.available += piece.shape[1]

    def take(self, count: int) -> np.ndarray:
        parts = []
        while count > 0:
            head = self.pending[0]
            if head.shape[1] <= count:
                parts.append(self.pending.popleft())
                count -= head.shape[1]
            else:
                parts.append(head[:, :count])
                self.pending[0] = head[:, count:]
                count = 0
        taken = np.concatenate(parts, axis=1) if len(parts) != 1 else parts[0]
        self.available -= taken.shape[1]
        return taken


class _RateWriter:
    """Writes work-rate audio at the file's rate: soxr stream back, exactly `total` frames."""

    def __init__(self, writer: _Writer, work_rate: int, file_rate: int, channels: int, total: int) -> None:
        self.writer, self.total, self.written = writer, total, 0
        self.stream = FileRateStream(work_rate, file_rate, channels)

    def _emit(self, audio: np.ndarray) -> None:  # audio: [C, n] at the file rate
        self.writer.write(np.ascontiguousarray(audio[:, : self.total - self.written]))
        self.written += min(audio.shape[1], self.total - self.written)

    def write(self, audio: np.ndarray) -> None:
        if audio.shape[1]:
            self._emit(self.stream.push(audio))

    def finish(self, channels: int) -> None:
        self._emit(self.stream.flush())
        if self.written < self.total:  # rounding of the rate ratio: at most a sample or two
            self._emit(np.zeros((channels, self.total - self.written), np.float32))


def working_rate(sample_rate: int) -> int:
    """The rate the processors run at: the file's own rate if the engine takes it, else the model rate (44.1 kHz)."""
    from fewshot_sep.realtime.engine import SUPPORTED_HOST_RATES

    return sample_rate if sample_rate in SUPPORTED_HOST_RATES else SAMPLE_RATE


def _resampled_chunks(chunks, file_rate: int, work_rate: int, channels: int):
    """Chunks at `file_rate` -> chunks at `work_rate` (soxr stream, flushed at the end)."""
    stream = FileRateStream(file_rate, work_rate, channels)
    for chunk in chunks:
        yield chunk, stream.push(chunk)
    yield np.zeros((channels, 0), np.float32), stream.flush()


#: Smallest chunk handed to processors: pedalboard reads a ``[channels, n]`` array with
#: n <= channels as the other layout, so a native plugin in a chain must never see one.
MIN_CHUNK_FRAMES = 64


def _without_tiny_chunks(pairs):
    """Rebalance ``(file_chunk, work_chunk)`` pairs so no work chunk is shorter than MIN_CHUNK_FRAMES.

    A short chunk is joined with its neighbour and the two are split into near-equal
    halves, so no chunk grows past the largest one before it either (pedalboard resets
    its plugins when a streamed call is longer than the ones before). Only a whole input
    shorter than the minimum stays short.
    """
    pending = None
    for pair in pairs:
        if pending is None:
            pending = pair
            continue
        if pair[1].shape[1] >= MIN_CHUNK_FRAMES and pending[1].shape[1] >= MIN_CHUNK_FRAMES:
            yield pending
            pending = pair
            continue
        file_part = np.concatenate([pending[0], pair[0]], axis=1)
        work = np.concatenate([pending[1], pair[1]], axis=1)
        if work.shape[1] < 2 * MIN_CHUNK_FRAMES:
            pending = (file_part, work)
            continue
        half = work.shape[1] // 2
        yield file_part, work[:, :half]
        pending = (file_part[:, :0], work[:, half:])
    if pending is not None:
        yield pending


@dataclass
class FileResult:
    """What one file produced.

    Attributes:
        input, outputs: the paths (outputs in processor order, then the residual).
        seconds, sample_rate, channels: the input's duration (s), rate (Hz) and channel count.
        nonfinite_samples: input samples that were NaN/Inf (processed as silence).
        latency_samples: the processors' delay that was compensated, in samples at the
            file's rate (the outputs are aligned with the input either way).
        input_energy: sum of squares of the input (all channels, at the processing rate).
        output_energy: per processor output, sum of squares of that output.
        difference_energy: per processor output, sum of squares of (input - output).
    """

    input: Path
    outputs: list[Path]
    seconds: float
    sample_rate: int
    channels: int
    nonfinite_samples: int = 0
    latency_samples: int = 0
    input_energy: float = 0.0
    output_energy: list[float] = field(default_factory=list)
    difference_energy: list[float] = field(default_factory=list)


class _Levels:
    """Running energies of the aligned input, each output and each (input - output)."""

    def __init__(self, n_outputs: int) -> None:
        self.input = 0.0
        self.output = [0.0] * n_outputs
        self.difference = [0.0] * n_outputs

    def add(self, source: np.ndarray, outputs: Sequence[np.ndarray]) -> None:
        source64 = source.astype(np.float64)
        self.input += float(np.sum(source64 * source64))
        for i, out in enumerate(outputs):
            out64 = out.astype(np.float64)
            diff = source64 - out64
            self.output[i] += float(np.sum(out64 * out64))
            self.difference[i] += float(np.sum(diff * diff))


def stream_file(
    processors: Sequence[StreamProcessor],
    input_path: str | os.PathLike,
    output_paths: Sequence[str | os.PathLike],
    *,
    residual_path: str | os.PathLike | None = None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    buffer_size: int = 8192,
    bit_depth: int = 24,
    progress: bool | None = None,
    progress_callback: ProgressCallback | None = None,
) -> FileResult:
    """Run each processor over one input file and write its aligned output.

    Args:
        processors: one processor per output (``process_channels_first`` + ``latency_samples``).
        input_path: any format ``fewshot_sep.utils.audio`` reads.
        output_paths: one path per processor; format from the extension.
        residual_path: if given, also write input minus the sum of the outputs there
            (the "everything else" stem).
        chunk_frames: frames read per chunk (bounds memory).
        buffer_size: largest block handed to a processor at once.
        bit_depth: bits for PCM outputs (WAV, FLAC, AIFF).
        progress: show a tqdm bar in seconds of audio (None = only on a terminal).
        progress_callback: called as ``callback(done_seconds, total_seconds)`` per chunk.

    Returns:
        A FileResult. Outputs are written atomically: on any error none is left behind.

    Raises:
        UserError: unreadable input, unwritable output, output = input.
    """
    from tqdm import tqdm

    input_path = Path(input_path)
    targets = [Path(p) for p in output_paths]
    if residual_path is not None:
        targets.append(Path(residual_path))
    if len(targets) == 0:
        raise ValueError("no outputs requested")
    if len(processors) != len(output_paths):
        raise ValueError("give one output path per processor")
    chunk_frames = max(int(chunk_frames), 2 * MIN_CHUNK_FRAMES)
    check_targets(input_path, targets)
    sample_rate, channels, file_frames = audio_info(input_path)
    total_seconds = file_frames / sample_rate
    # The engine runs at 22.05/44.1/48/88.2/96 kHz; any other file rate is streamed
    # through soxr to the model rate (SAMPLE_RATE) and back (timing kept exactly, same length out).
    work_rate = working_rate(sample_rate)
    resampling = work_rate != sample_rate
    # Work-rate frames to deliver: known up front without resampling; with it, counted
    # as the resampled input arrives (the flush runs after the last chunk).
    total_frames = file_frames if not resampling else 0

    streams = [_AlignedOutput(p) for p in processors]
    streams.append(_AlignedOutput(_Identity()))  # the input, aligned: residual and levels
    levels = _Levels(len(processors))
    for stream in streams:
        stream.processor.reset()

    bar = tqdm(
        total=round(total_seconds, 2), unit="s", desc=input_path.name[:30],
        disable=(not sys.stderr.isatty()) if progress is None else not progress,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of audio [{elapsed}<{remaining}]",
        leave=False,
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.closing(bar))
        writers = _open_writers(stack, targets, sample_rate, work_rate, channels, file_frames, bit_depth)
        out = _Delivery(streams, writers, levels, residual=residual_path is not None, total_frames=total_frames)
        chunks = iter_audio_chunks(input_path, chunk_frames)
        if resampling:
            pairs = _resampled_chunks(chunks, sample_rate, work_rate, channels)
        else:
            pairs = ((chunk, chunk) for chunk in chunks)
        nonfinite = 0
        for file_chunk, chunk in _without_tiny_chunks(pairs):
            if not np.isfinite(file_chunk).all():  # the engine zeroes them; the user is told (run_batch)
                nonfinite += int(file_chunk.size - np.count_nonzero(np.isfinite(file_chunk)))
            if resampling:
                out.total_frames += chunk.shape[1]
            if chunk.shape[1]:
                for stream in streams:
                    stream.feed(chunk, work_rate, buffer_size)
                out.drain()
            bar.update(round(file_chunk.shape[1] / sample_rate, 4))
            if progress_callback is not None:
                progress_callback(min(out.written / work_rate, total_seconds), total_seconds)
        out.flush(input_path, channels, work_rate, chunk_frames, buffer_size)
        if resampling:
            for writer in writers:
                writer.finish(channels)
        if progress_callback is not None:
            progress_callback(total_seconds, total_seconds)
    latency = max((int(p.latency_samples) for p in processors), default=0)
    return FileResult(
        input_path, targets, total_seconds, sample_rate, channels, nonfinite,
        latency_samples=int(round(latency * sample_rate / work_rate)), input_energy=levels.input,
        output_energy=levels.output, difference_energy=levels.difference,
    )


class _Delivery:
    """Takes aligned audio from every stream as it becomes ready and hands it to the writers.

    The last stream is the input itself (for the residual and the levels); `written` counts
    work-rate frames delivered, up to `total_frames`.
    """

    def __init__(self, streams: list[_AlignedOutput], writers: list[Any], levels: _Levels, *, residual: bool,
                 total_frames: int) -> None:
        self.streams, self.writers, self.levels, self.residual = streams, writers, levels, residual
        self.total_frames = total_frames
        self.written = 0

    def drain(self) -> None:
        ready = min(min(s.available for s in self.streams), self.total_frames - self.written)
        if ready <= 0:
            return
        pieces = [s.take(ready) for s in self.streams]
        stems, source = pieces[:-1], pieces[-1]
        self.levels.add(source, stems)
        if self.residual:
            stems = stems + [source - np.sum(stems, axis=0) if stems else source]
        for writer, piece in zip(self.writers, stems):
            writer.write(piece)
        self.written += ready

    def flush(self, input_path: Path, channels: int, work_rate: int, chunk_frames: int, buffer_size: int) -> None:
        """Feed silence until every stream has delivered the input's length."""
        flushed, flush_limit = 0, 60 * work_rate
        while self.written < self.total_frames:
            if flushed > flush_limit:
                raise UserError(
                    f"processing {str(input_path)!r}: the processor still owed {self.total_frames - self.written} "
                    "samples after 60 s of trailing silence; a plugin in the chain does not stream"
                )
            owed = self.total_frames - self.written
            need = max(s.owed_latency() + owed - s.available for s in self.streams)
            size = max(MIN_CHUNK_FRAMES, min(chunk_frames, need))
            silence = np.zeros((channels, size), dtype=np.float32)
            for stream in self.streams:
                stream.feed(silence, work_rate, buffer_size)
            flushed += size
            self.drain()


def check_targets(input_path: Path, targets: Sequence[Path]) -> None:
    """Refuse outputs that cannot be written: unknown extension, the input itself, one path twice.

    Raises:
        UserError: naming the output.
    """
    for target in targets:
        check_writable_extension(target)
        if target.exists() and input_path.exists() and target.resolve() == input_path.resolve():
            raise UserError(
                f"output {str(target)!r} is the input file: refusing to overwrite it; choose another --output"
            )
    if len({t.resolve() for t in targets}) != len(targets):
        raise UserError(f"two outputs would be written to the same file: {[str(t) for t in targets]}")


def _open_writers(
    stack: contextlib.ExitStack, targets: Sequence[Path], sample_rate: int, work_rate: int, channels: int,
    file_frames: int, bit_depth: int,
) -> list[Any]:
    """One atomic writer per target (taking work-rate audio ``[C, n]``), closed and renamed by `stack`."""
    tmp_paths = [stack.enter_context(atomic_path(t)) for t in targets]
    file_writers = []
    for tmp, target in zip(tmp_paths, targets):
        file_writers.append(_Writer(tmp, target, sample_rate, channels, bit_depth))
        # Closed before atomic_path renames (an ExitStack unwinds in reverse order).
        stack.callback(file_writers[-1].close)
    if work_rate == sample_rate:
        return file_writers
    return [_RateWriter(w, work_rate, sample_rate, channels, file_frames) for w in file_writers]


# ------------------------------------------------------------------------ batches
def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Files named directly plus the audio files (by extension) inside named folders, in order.

    Raises:
        UserError: a folder with no audio files, or nothing given.
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in READABLE_EXTENSIONS)
            if not found:
                raise UserError(
                    f"folder {str(path)!r} has no audio files ({', '.join(READABLE_EXTENSIONS)})"
                )
            files.extend(found)
        else:
            files.append(path)  # missing/unreadable files are reported per file later
    if not files:
        raise UserError("no input files given")
    return files


def safe_file_stem(name: str) -> str:
    """`name` made safe as a file name (letters, digits, ``.``, ``-``, ``_``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")
    return stem or "preset"


#: Errors that fail one file of a batch (the batch goes on): UserError (unreadable input,
#: bad output path), OSError (disk), and the RuntimeError/ValueError that pedalboard.io
#: raises for a file that breaks off mid-decode. Anything else is a bug.
FILE_ERRORS: tuple[type[BaseException], ...] = (UserError, OSError, RuntimeError, ValueError)


def done_message(prefix: str, result: FileResult) -> str:
    """The log line of a finished file: ``[i/n] IN (s, Hz, ch) -> OUTS``."""
    outs = ", ".join(str(p) for p in result.outputs)
    line = f"{prefix}{result.input} ({result.seconds:.1f} s, {result.sample_rate} Hz, {result.channels} ch) -> {outs}"
    if result.nonfinite_samples:
        line += (f"\n{prefix}{result.input}: note: {result.nonfinite_samples} NaN/Inf sample(s) in the input were "
                 "processed as silence (the file is damaged or was written as float with invalid values)")
    return line


def failed_message(prefix: str, path: str | os.PathLike, error: str) -> str:
    """The log line of a failed file (the CLI sends lines with ``": FAILED: "`` to stderr)."""
    return f"{prefix}{path}: FAILED: {error}"
