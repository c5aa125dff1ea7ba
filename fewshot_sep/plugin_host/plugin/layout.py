"""Channel-layout detection for host-facing ``process()`` calls, as pedalboard does it.

pedalboard accepts ``[channels, samples]``, ``[samples, channels]`` or 1-D (mono)
arrays, float32 or float64, and returns float32 in the layout it was given:

- 1-D input is mono; the output is 1-D.
- 2-D input: the smaller dimension is the channel dimension.
- A square array (``channels == samples``) is ambiguous: the layout detected on the
  previous call of the same object is reused; with no previous call it is an error.
- The previous call's channel count is a hint: a dimension equal to it is the channel
  dimension (so ``[2, 1]``, one stereo sample, stays stereo in a stereo stream).
- ``reset()`` forgets the remembered layout and channel count.
"""

from __future__ import annotations

import enum

import numpy as np

from fewshot_sep.utils.errors import UserError

#: pedalboard refuses more than 32 channels; so do we.
MAX_CHANNELS = 32


class InvalidAudio(UserError, TypeError, ValueError):
    """Audio that cannot be processed (a UserError; also the TypeError/ValueError raised before)."""


class ChannelLayout(enum.Enum):
    """How samples are laid out in a 2-D array."""

    CHANNELS_FIRST = "channels_first"  # [channels, samples] (pedalboard: "NotInterleaved")
    CHANNELS_LAST = "channels_last"  # [samples, channels] (pedalboard: "Interleaved")
    MONO_1D = "mono_1d"  # [samples]


def detect_layout(
    array: np.ndarray,
    last_layout: ChannelLayout | None = None,
    last_channels: int | None = None,
) -> ChannelLayout:
    """Return the layout of `array` (1-D or 2-D), as pedalboard 0.9 decides it.

    Args:
        array: the audio.
        last_layout: the layout detected on the previous call (resolves square arrays).
        last_channels: the channel count of the previous call: a dimension equal to it
            is the channel dimension (so a 1-sample stereo block ``[2, 1]`` after a
            stereo stream stays stereo).

    Raises:
        ValueError: more than 2 dimensions, or a square array with no remembered layout.
    """
    if array.ndim == 1:
        return ChannelLayout.MONO_1D
    if array.ndim != 2:
        raise InvalidAudio(
            f"audio must have 1 or 2 dimensions ([samples], [channels, samples] or "
            f"[samples, channels]), got shape {array.shape}"
        )
    rows, cols = array.shape
    if rows == cols and rows > 1:
        if last_layout in (ChannelLayout.CHANNELS_FIRST, ChannelLayout.CHANNELS_LAST):
            return last_layout
        raise InvalidAudio(
            f"cannot tell channels from samples in a square array of shape {array.shape}: "
            "process a non-square array first (the layout is then remembered until reset()), "
            "or pass a longer signal"
        )
    if last_channels:
        if rows == last_channels:
            return ChannelLayout.CHANNELS_FIRST
        if cols == last_channels:
            return ChannelLayout.CHANNELS_LAST
    if rows == 0 and cols > 0:
        return ChannelLayout.CHANNELS_LAST  # zero samples of `cols` channels
    if cols == 0 and rows > 0:
        return ChannelLayout.CHANNELS_FIRST
    if cols < rows:
        return ChannelLayout.CHANNELS_LAST
    return ChannelLayout.CHANNELS_FIRST  # rows < cols, or a single sample of a single channel


def to_channels_first(array: np.ndarray, layout: ChannelLayout) -> np.ndarray:
    """Return a contiguous float32 ``[channels, samples]`` copy-or-view of `array`.

    Floats are converted to float32. Signed integers are PCM samples and are scaled
    like audio, by 2**(bits-1) (int16 -32768..32767 -> -1..1), so an int16 array from a
    WAV file is not processed at peaks of thousands. Unsigned integers, bool and complex
    arrays are refused (their audio meaning is ambiguous).
    """
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.signedinteger):
        scale = float(2 ** (8 * array.dtype.itemsize - 1))
        array = (array.astype(np.float64) / scale) if array.dtype.itemsize > 2 else array.astype(np.float32) / np.float32(scale)
    elif not np.issubdtype(array.dtype, np.floating):
        raise InvalidAudio(
            f"audio has dtype {array.dtype}: give float32/float64 samples in [-1, 1] or signed integer PCM "
            "(int16/int32, scaled by 2**(bits-1)); convert e.g. with (x.astype(np.float32) - 128) / 128 for uint8"
        )
    if layout is ChannelLayout.MONO_1D:
        out = array[np.newaxis, :]
    elif layout is ChannelLayout.CHANNELS_LAST:
        out = array.T
    else:
        out = array
    if out.shape[0] == 0:
        raise InvalidAudio("audio has no channels: give at least one channel")
    if out.shape[0] > MAX_CHANNELS:
        raise InvalidAudio(f"audio has {out.shape[0]} channels; at most {MAX_CHANNELS} are supported: "
                           "process the channels in groups, or check the array's orientation")
    return np.ascontiguousarray(out, dtype=np.float32)


def from_channels_first(audio: np.ndarray, layout: ChannelLayout) -> np.ndarray:
    """Inverse of :func:`to_channels_first`: return `audio` ``[channels, n]`` in `layout`."""
    if layout is ChannelLayout.MONO_1D:
        return np.ascontiguousarray(audio[0])
    if layout is ChannelLayout.CHANNELS_LAST:
        return np.ascontiguousarray(audio.T)
    return np.ascontiguousarray(audio)


class LayoutTracker:
    """Detects the layout of successive `process` calls the way a pedalboard plugin does.

    Remembers the last non-1-D layout and channel count, so that ambiguous blocks
    (square, or ``[2, 1]`` inside a stereo stream) keep the stream's layout.
    """

    def __init__(self) -> None:
        self.last_layout: ChannelLayout | None = None
        self.last_channels: int | None = None

    def reset(self) -> None:
        """Forget the stream's layout (a new stream starts)."""
        self.last_layout = None
        self.last_channels = None

    def to_channels_first(self, array: np.ndarray) -> tuple[np.ndarray, ChannelLayout]:
        """Return ``(audio [channels, n] float32, layout)`` and remember the layout."""
        layout = detect_layout(array, self.last_layout, self.last_channels)
        audio = to_channels_first(array, layout)
        if layout is not ChannelLayout.MONO_1D:
            self.last_layout = layout
        self.last_channels = audio.shape[0]
        return audio, layout
