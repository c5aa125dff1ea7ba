"""Example clips: parse ``FILE[@START-END]``, read, check, trim and cut into encoder clips.

Everything here is numpy only. The steps for one example file:

1. read it (any format pedalboard.io / soundfile reads; optional segment);
2. refuse NaN/inf samples; warn when more than 0.1 % of samples are at full scale (clipped);
3. downmix to mono (mean of channels), resample to the model rate;
4. trim leading/trailing silence (frames quieter than ``SILENCE_DBFS``); refuse a silent file
   or one shorter than the model's ``min_clip_seconds`` after trimming;
5. cut into clips of ``clip_seconds`` with a hop of half a clip (the last clip is aligned to the
   end so every sample is covered); near-silent clips are skipped;
6. a sparse example (a bass line or a lead with rests, where no clip is 25 % sound) is
   built from its sounding parts instead: they are joined (``gather_sound``) and cut into
   clips, when they add up to at least ``min_clip_seconds``.

Problems are collected per file (`PreparedExample.error`) so one run reports every bad file.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fewshot_sep.contract.signal import N_FFT, SAMPLE_RATE
from fewshot_sep.utils.errors import UserError

#: A frame is "sound" when its RMS is above this level (dB relative to full scale).
SILENCE_DBFS = -60.0
#: Frame length for the silence detector, in seconds (about 23 ms at 44.1 kHz).
SILENCE_FRAME_SECONDS = N_FFT / SAMPLE_RATE
#: A clip whose fraction of sounding frames is below this is skipped as near-silent.
MIN_ACTIVE_FRACTION = 0.25
#: Samples at or above this magnitude count as clipped...
CLIP_LEVEL = 0.999
#: ...and a file with more than this fraction of them gets a warning.
CLIPPED_FRACTION_WARN = 0.001
#: Hop between successive clips of a long file, as a fraction of the clip length.
CLIP_HOP_FRACTION = 0.5

_TIME = r"(?:\d+:){0,2}\d+(?:\.\d*)?"
_SEGMENT = re.compile(rf"^(?P<start>{_TIME})-(?P<end>{_TIME})?$")
_SEGMENT_CHARS = re.compile(r"^[\d:.\-]+$")


@dataclass(frozen=True)
class ExampleSpec:
    """One example as given by the user: a path and an optional segment in seconds.

    Attributes:
        path: the audio file.
        segment: ``(start_s, end_s)``, ``end_s`` None = to the end of the file; None = whole file.
        text: the original argument, for messages.
    """

    path: Path
    segment: tuple[float, float | None] | None = None
    text: str = ""

    @property
    def label(self) -> str:
        return self.text or str(self.path)


def _seconds(text: str) -> float:
    """``"75.5"``, ``"1:15.5"`` or ``"0:01:15.5"`` -> seconds."""
    value = 0.0
    for part in text.split(":"):
        value = value * 60 + float(part)
    return value


def parse_example(arg: "str | Path | ExampleSpec") -> ExampleSpec:
    """Parse ``FILE``, ``FILE@START-END`` or ``FILE@START-`` (times in s, m:s or h:m:s).

    A file whose real name contains ``@`` is taken literally when it exists.

    Raises:
        UserError: a malformed segment, or END <= START.
    """
    if isinstance(arg, ExampleSpec):
        return arg
    text = str(arg)
    path, sep, tail = text.rpartition("@")
    if not sep or Path(text).exists() or not _SEGMENT_CHARS.match(tail):
        return ExampleSpec(Path(text), None, text)
    match = _SEGMENT.match(tail)
    if not match:
        raise UserError(
            f"segment {tail!r} in {text!r} is not valid: write FILE@START-END or FILE@START- "
            f"with times in seconds, m:ss or h:mm:ss, e.g. 'take1.wav@12.5-20' or 'take1.wav@1:05-'"
        )
    start = _seconds(match["start"])
    end = None if match["end"] is None else _seconds(match["end"])
    if end is not None and end <= start:
        raise UserError(f"segment in {text!r} ends ({end:g} s) before it starts ({start:g} s): give START < END")
    return ExampleSpec(Path(path), (start, end), text)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def frame_rms_db(mono: np.ndarray, frame: int) -> np.ndarray:
    """RMS level in dBFS of consecutive non-overlapping frames of ``[n]`` audio -> ``[ceil(n/frame)]``."""
    n_frames = max(1, math.ceil(len(mono) / frame))
    padded = np.zeros(n_frames * frame, dtype=np.float64)
    padded[: len(mono)] = mono
    power = np.mean(padded.reshape(n_frames, frame) ** 2, axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def trim_silence(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """Drop leading and trailing frames quieter than `SILENCE_DBFS`; ``[n] -> [m]`` (m = 0 if silent)."""
    frame = max(1, int(round(SILENCE_FRAME_SECONDS * sample_rate)))
    active = np.flatnonzero(frame_rms_db(mono, frame) > SILENCE_DBFS)
    if active.size == 0:
        return mono[:0]
    return mono[active[0] * frame : min(len(mono), (active[-1] + 1) * frame)]


def active_fraction(mono: np.ndarray, sample_rate: int) -> float:
    """Fraction of frames of ``[n]`` audio louder than `SILENCE_DBFS`."""
    frame = max(1, int(round(SILENCE_FRAME_SECONDS * sample_rate)))
    return float(np.mean(frame_rms_db(mono, frame) > SILENCE_DBFS))


def cut_clips(mono: np.ndarray, sample_rate: int, clip_seconds: float) -> list[np.ndarray]:
    """Cut ``[n]`` audio into clips of `clip_seconds` with a hop of half a clip.

    Audio no longer than one clip is returned whole. Otherwise clips start every hop and a
    last clip is aligned to the end so the tail is covered too. Returns views, each ``[<= clip]``.
    """
    clip = max(1, int(round(clip_seconds * sample_rate)))
    n = len(mono)
    if n <= clip:
        return [mono]
    hop = max(1, int(round(clip * CLIP_HOP_FRACTION)))
    starts = list(range(0, n - clip + 1, hop))
    if starts[-1] + clip < n:
        starts.append(n - clip)
    return [mono[s : s + clip] for s in starts]


@dataclass
class PreparedExample:
    """One example file after reading and checking.

    Attributes:
        spec: what the user gave.
        role: "positive" or "negative".
        clips: mono float32 clips at the model rate, each ``[n]`` (empty when `error` is set).
        sha256, sample_rate, channels, duration_s, n_skipped: facts for the preset's clip record.
        warnings: problems that do not stop the build (clipping, skipped clips).
        error: why this file cannot be used, or None.
    """

    spec: ExampleSpec
    role: str
    clips: list[np.ndarray] = field(default_factory=list)
    sha256: str = ""
    sample_rate: int = 0
    channels: int = 0
    duration_s: float = 0.0
    n_skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def prepare_example(
    spec: ExampleSpec,
    role: str,
    model_rate: int,
    clip_seconds: float,
    min_clip_seconds: float,
) -> PreparedExample:
    """Read, check, trim and cut one example file (see the module doc). Never raises UserError:
    problems go to ``.error`` so the caller can report every bad file at once."""
    from fewshot_sep.realtime.resampler import resample
    from fewshot_sep.utils.audio import audio_info, read_audio

    result = PreparedExample(spec=spec, role=role)
    label = spec.label
    if spec.path.is_file():
        try:
            result.sha256 = file_sha256(spec.path)
        except OSError as err:
            result.error = f"{label}: cannot read the file ({err})"
            return result
    try:
        # An empty file must be caught before reading: read(0) means "everything" to pedalboard.
        if audio_info(spec.path)[2] == 0:
            result.error = f"{label}: contains no audio samples (empty file)"
            return result
        segment = None
        if spec.segment is not None:
            start, end = spec.segment
            segment = (start, math.inf if end is None else end)
        audio, sr = read_audio(spec.path, segment=segment)
    except UserError as err:
        result.error = f"{label}: {err}"
        return result
    except (ValueError, RuntimeError, OSError) as err:  # decoder failures past the header
        result.error = f"{label}: cannot read it as audio ({err})"
        return result
    result.sample_rate, result.channels = int(sr), int(audio.shape[0])
    if audio.size == 0:
        result.error = f"{label}: contains no audio samples (empty file or segment)"
        return result

    n_bad = int(audio.size - np.count_nonzero(np.isfinite(audio)))
    if n_bad:
        result.error = (
            f"{label}: contains {n_bad} NaN or infinite sample(s), so it is corrupt; "
            "re-export it from your DAW or editor"
        )
        return result
    clipped = float(np.mean(np.abs(audio) >= CLIP_LEVEL))
    if clipped > CLIPPED_FRACTION_WARN:
        result.warnings.append(
            f"{label}: {100 * clipped:.2f}% of samples are at full scale (clipped); the preset may "
            "learn the distortion; use an unclipped recording or lower its level if you can"
        )

    mono = audio.mean(axis=0, dtype=np.float64).astype(np.float32)
    mono = resample(mono[None, :], sr, model_rate)[0]
    trimmed = trim_silence(mono, model_rate)
    if trimmed.size == 0:
        result.error = (
            f"{label}: is silent (nothing louder than {SILENCE_DBFS:g} dBFS); "
            "check the file or the segment you chose"
        )
        return result
    result.duration_s = len(trimmed) / model_rate
    if result.duration_s < min_clip_seconds:
        result.error = (
            f"{label}: has only {result.duration_s:.2f} s of sound after trimming silence; each example "
            f"needs at least {min_clip_seconds:g} s: use a longer recording or a wider segment"
        )
        return result

    clips = cut_clips(trimmed, model_rate, clip_seconds)
    kept = [c for c in clips if len(clips) == 1 or active_fraction(c, model_rate) >= MIN_ACTIVE_FRACTION]
    result.n_skipped = len(clips) - len(kept)
    if not kept:
        return _from_sounding_parts(result, trimmed, model_rate, clip_seconds, min_clip_seconds)
    if result.n_skipped:
        result.warnings.append(
            f"{label}: skipped {result.n_skipped} of {len(clips)} mostly silent {clip_seconds:g} s clip(s)"
        )
    result.clips = [np.ascontiguousarray(c, dtype=np.float32) for c in kept]
    return result


def _from_sounding_parts(
    result: PreparedExample, trimmed: np.ndarray, model_rate: int, clip_seconds: float, min_clip_seconds: float
) -> PreparedExample:
    """A sparse example (rests everywhere, no clip 25 % sound): clips cut from its sounding parts joined."""
    label = result.spec.label
    gathered = gather_sound(trimmed, model_rate)
    seconds = len(gathered) / model_rate
    if seconds < min_clip_seconds:
        result.error = (
            f"{label}: every {clip_seconds:g} s clip is mostly silence (less than "
            f"{100 * MIN_ACTIVE_FRACTION:.0f}% of it above {SILENCE_DBFS:g} dBFS), and its sounding parts add "
            f"up to only {seconds:.2f} s of the {result.duration_s:.2f} s (at least {min_clip_seconds:g} s is "
            "needed): use a longer or denser passage"
        )
        return result
    clips = cut_clips(gathered, model_rate, clip_seconds)
    result.warnings.append(
        f"{label}: sparse example (no {clip_seconds:g} s stretch is {100 * MIN_ACTIVE_FRACTION:.0f}% sound): "
        f"built from its sounding parts, {seconds:.2f} s of the {result.duration_s:.2f} s, joined "
        f"({len(clips)} clip(s))"
    )
    result.duration_s = seconds
    result.clips = [np.ascontiguousarray(c, dtype=np.float32) for c in clips]
    return result


#: Fade at each edge of a sounding part when they are joined (no click at the joins), in seconds.
JOIN_FADE_SECONDS = 0.005


def gather_sound(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """The sounding parts of ``[n]`` audio joined end to end: ``[m]`` float32, m <= n.

    A part is a run of silence-detector frames (``SILENCE_FRAME_SECONDS``) louder than
    `SILENCE_DBFS`; each part gets a short raised-cosine fade in and out
    (``JOIN_FADE_SECONDS``) so the joins do not click. Returns an empty array for silence.
    """
    frame = max(1, int(round(SILENCE_FRAME_SECONDS * sample_rate)))
    active = np.concatenate([[False], frame_rms_db(mono, frame) > SILENCE_DBFS, [False]])
    edges = np.flatnonzero(np.diff(active.astype(np.int8)))
    fade = max(1, int(round(JOIN_FADE_SECONDS * sample_rate)))
    parts = []
    for start, stop in zip(edges[::2], edges[1::2]):
        part = np.array(mono[start * frame : min(len(mono), stop * frame)], dtype=np.float32)
        n = min(fade, len(part) // 2)
        if n:
            ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)).astype(np.float32)
            part[:n] *= ramp
            part[len(part) - n :] *= ramp[::-1]
        parts.append(part)
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)
