"""Every resampling in the run time: this module owns it (three tools, one place).

- :class:`StreamResampler` (polyphase, below): the streaming engine's host <-> model rate
  conversion (``separate`` and live at 22.05/48/88.2/96 kHz), exact integer delay;
- :class:`FileRateStream` (soxr ``ResampleStream``, HQ): ``separate`` on a file whose rate the
  engine does not take (e.g. 32 kHz), streamed to 44.1 kHz and back chunk by chunk;
- :func:`resample` (soxr, HQ, whole signal): preset example clips to the model rate.

Streaming rational-ratio resampler: polyphase Kaiser-windowed sinc, exact integer delay.

Why not soxr's ``ResampleStream``: soxr keeps the signal's timing but hands its
output out late and in bursts (up to ~1000 samples per stage), which the
engine had to absorb with FIFOs worth ~45 ms at 48 kHz. This filter is a plain
linear-phase FIR evaluated at the exact output instants, so:

- after ``N`` input samples exactly ``ceil(N * L / M)`` output samples exist
  (no bursts, no start-up lag beyond the filter's own half-length);
- its delay is exactly ``center`` samples of the common rate
  ``lcm(rate_in, rate_out)``, i.e. ``center / L`` input samples; the engine
  chooses the two stages' centres so that the whole chain's delay is an
  integer number of host samples.

Conventions (common rate ``C = lcm(rate_in, rate_out)``, ``L = C / rate_in``,
``M = C / rate_out``): input sample ``q`` sits at common index ``q * L``,
output sample ``j`` at ``j * M``. The prototype low-pass ``h[k]``, ``k = 0 ..
2*center`` (symmetric about ``center``, so linear phase), is applied to the
zero-stuffed input: ``y[j] = sum_q x[q] * h[j*M - q*L]``. With ``j*M = q_hi*L
+ p`` that is ``sum_i x[q_hi - i] * h[p + i*L]``: one of ``L`` polyphase rows
of ``taps`` coefficients per output sample. Each row is normalised to sum 1,
so DC passes exactly. Samples before 0 are zeros.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Stop-band attenuation (dB) per quality name; the pass band is the same for all.
QUALITY_ATTENUATION_DB = {"LQ": 60.0, "MQ": 80.0, "HQ": 100.0, "VHQ": 120.0}
PASSBAND_MAX_HZ = 18000.0  # pass-band edge when both rates allow it
PASSBAND_FRACTION = 0.9  # else this fraction of the lower Nyquist frequency


@dataclass(frozen=True)
class FilterSpec:
    """Band edges (Hz) and attenuation (dB) of a resampling low-pass."""

    passband_hz: float
    stopband_hz: float
    attenuation_db: float


def filter_spec(rate_in: int, rate_out: int, quality: str = "HQ") -> FilterSpec:
    """The low-pass for ``rate_in -> rate_out``: flat to 18 kHz (or 0.9 x the lower Nyquist), stop at that Nyquist."""
    nyquist = min(rate_in, rate_out) / 2.0
    passband = min(PASSBAND_MAX_HZ, PASSBAND_FRACTION * nyquist)
    return FilterSpec(passband, nyquist, QUALITY_ATTENUATION_DB[quality])


def natural_center(rate_in: int, rate_out: int, spec: FilterSpec) -> int:
    """Half-length (common-rate samples) a Kaiser design needs for ``spec``."""
    common = math.lcm(rate_in, rate_out)
    transition = 2.0 * math.pi * (spec.stopband_hz - spec.passband_hz) / common
    length = (spec.attenuation_db - 7.95) / (2.285 * transition) + 1.0  # Kaiser's estimate
    return int(math.ceil((length - 1.0) / 2.0))


def kaiser_beta(attenuation_db: float) -> float:
    """Kaiser window shape parameter for a stop-band attenuation in dB."""
    a = attenuation_db
    if a > 50.0:
        return 0.1102 * (a - 8.7)
    if a >= 21.0:
        return 0.5842 * (a - 21.0) ** 0.4 + 0.07886 * (a - 21.0)
    return 0.0


def design_polyphase(rate_in: int, rate_out: int, center: int, spec: FilterSpec) -> np.ndarray:
    """Polyphase coefficient table ``[L, taps]`` float32 (row ``p``, tap ``i`` = ``h[p + i*L]``).

    ``h`` has ``2*center + 1`` taps at the common rate, symmetric about
    ``center``; the cutoff sits midway between the band edges. Rows are
    normalised to sum 1 (exact DC gain for every output phase).
    """
    common = math.lcm(rate_in, rate_out)
    up = common // rate_in
    cutoff = 0.5 * (spec.passband_hz + spec.stopband_hz)
    k = np.arange(2 * center + 1, dtype=np.float64) - center
    h = (2.0 * cutoff / common) * np.sinc(2.0 * cutoff * k / common) * np.kaiser(2 * center + 1, kaiser_beta(spec.attenuation_db))
    taps = -(-(2 * center + 1) // up)
    padded = np.zeros(taps * up, dtype=np.float64)
    padded[: h.size] = h
    table = padded.reshape(taps, up).T.copy()  # [p, i] = h[p + i*up]
    table /= table.sum(axis=1, keepdims=True)
    return table.astype(np.float32)


class StreamResampler:
    """Stateful polyphase resampler for ``[C, n]`` float32 blocks (see the module docstring).

    Args:
        rate_in, rate_out: sample rates in Hz.
        num_channels: channels per block.
        max_block: largest input block (samples) per ``process`` call.
        center: filter centre in common-rate samples (its delay); None = the
            shortest that meets the spec (:func:`natural_center`).
        quality: "LQ" | "MQ" | "HQ" | "VHQ" (stop-band attenuation 60/80/100/120 dB).

    ``process(x, out)`` appends ``x [C, n]`` and writes the output samples that
    became computable into ``out[:, :m]``, returning ``m``; after ``N`` input
    samples in total exactly ``output_count(N)`` outputs have been written, so
    the split into blocks never changes the result. Preallocated buffers; the
    steady state allocates no arrays.
    """

    SUBCHUNK = 512  # outputs per table lookup (bounds the tables' size)

    def __init__(
        self,
        rate_in: int,
        rate_out: int,
        num_channels: int,
        max_block: int,
        center: int | None = None,
        quality: str = "HQ",
    ):
        self.rate_in, self.rate_out = int(rate_in), int(rate_out)
        self.common = math.lcm(self.rate_in, self.rate_out)
        self.up = self.common // self.rate_in  # L
        self.down = self.common // self.rate_out  # M
        self.spec = filter_spec(self.rate_in, self.rate_out, quality)
        self.center = natural_center(self.rate_in, self.rate_out, self.spec) if center is None else int(center)
        self.table = design_polyphase(self.rate_in, self.rate_out, self.center, self.spec)
        self.taps = self.table.shape[1]
        self._table_reversed = np.ascontiguousarray(self.table[:, ::-1])  # tap i pairs with x[q_hi - i]
        self.num_channels = num_channels
        self.max_block = max_block
        self.max_out = self.max_output(max_block)
        # Input history: hist[:, h] is input sample origin + h. It keeps taps - 1 + M samples
        # before the next output's window, so the table offsets below never go negative.
        self._keep = self.taps - 1 + self.down
        self._capacity = 2 * (max_block + self._keep)
        self._hist = np.zeros((num_channels, self._capacity), dtype=np.float32)
        # Output j = base*L + r (r = j mod L) has phase (r*M) mod L and its window starts at input
        # base*M + floor(r*M/L) - taps + 1. Tables for t = 0 .. L + SUBCHUNK - 1 give, per t = r + k,
        # the window's input indices relative to base*M - taps + 1 and its coefficients, so a run of up
        # to SUBCHUNK outputs starting at phase r is rows r .. r+m-1: no per-call index arithmetic.
        rows = self.up + self.SUBCHUNK
        t = np.arange(rows, dtype=np.int64)
        window_start = t * self.down // self.up
        self._index_table = window_start[:, None] + np.arange(self.taps, dtype=np.int64)
        self._coef_table = np.ascontiguousarray(self.table[:, ::-1][(t * self.down) % self.up])  # tap i pairs with x[q_hi - i]
        self._gathered = np.zeros(num_channels * self.SUBCHUNK * self.taps, dtype=np.float32)
        self.reset()

    @property
    def delay_input_samples(self) -> float:
        """Delay in input samples (``center / L``)."""
        return self.center / self.up

    def output_count(self, total_in: int) -> int:
        """Outputs available after ``total_in`` input samples: ``ceil(total_in * L / M)``."""
        return -(-total_in * self.up // self.down)

    def max_output(self, n: int) -> int:
        """Upper bound on the outputs one call with ``n`` inputs can write."""
        return n * self.up // self.down + 1

    def reset(self) -> None:
        """Forget all input (the stream restarts at sample 0 with zero history)."""
        self._hist[:] = 0.0
        self._origin = -self._keep  # input index of hist[:, 0] (zeros before sample 0)
        self._fed = 0
        self._produced = 0

    def process(self, x: np.ndarray, out: np.ndarray) -> int:
        """Append ``x [C, n]`` (n <= max_block); write new outputs to ``out[:, :m]``; return m."""
        n = x.shape[-1]
        if n > self.max_block:
            raise ValueError(f"block of {n} samples exceeds max_block {self.max_block}")
        end = self._fed - self._origin
        if end + n > self._capacity:  # keep the last samples a future output can need
            keep = self._keep
            self._hist[:, :keep] = self._hist[:, end - keep : end]
            self._origin = self._fed - keep
            end = keep
        self._hist[:, end : end + n] = x
        self._fed += n
        j0, j1 = self._produced, self.output_count(self._fed)
        m = j1 - j0
        L, M = self.up, self.down
        for k0 in range(0, m, self.SUBCHUNK):
            k1 = min(m, k0 + self.SUBCHUNK)
            base, r = divmod(j0 + k0, L)
            offset = base * M - self.taps + 1 - self._origin  # >= 0 thanks to the M extra kept samples
            index = self._index_table[r : r + k1 - k0]
            coef = self._coef_table[r : r + k1 - k0]
            # All channels in one gather and one contraction (per-call overhead dominates at
            # live block sizes), into a contiguous view: numpy buffers (allocates) a strided ``out``.
            gathered = self._gathered[: self.num_channels * (k1 - k0) * self.taps].reshape(
                self.num_channels, k1 - k0, self.taps)
            np.take(self._hist[:, offset:], index, axis=1, out=gathered, mode="clip")  # "raise" would buffer out
            np.einsum("cti,ti->ct", gathered, coef, out=out[:, k0:k1])
        self._produced = j1
        return m


def chain_centers(host_rate: int, model_rate: int, model_delay: int, quality: str = "HQ") -> tuple[int, int, int]:
    """Centres of the host->model and model->host stages and the total latency in host samples.

    The chain host -> down stage -> ``model_delay`` model samples -> up stage ->
    host has delay ``(c_down + c_up + model_delay * M) / L`` host samples
    (common-rate units: ``L = C / host``, ``M = C / model``). ``c_down`` is the
    shortest meeting the spec; ``c_up`` is the shortest meeting it that makes the
    total an integer.

    Returns:
        ``(c_down, c_up, latency_host_samples)``.
    """
    common = math.lcm(host_rate, model_rate)
    host_step, model_step = common // host_rate, common // model_rate
    c_down = natural_center(host_rate, model_rate, filter_spec(host_rate, model_rate, quality))
    c_up = natural_center(model_rate, host_rate, filter_spec(model_rate, host_rate, quality))
    total = c_down + c_up + model_delay * model_step
    c_up += (-total) % host_step
    total = c_down + c_up + model_delay * model_step
    return c_down, c_up, total // host_step


# ------------------------------------------------------------------ soxr (files, presets)
def resample(audio: np.ndarray, sr_from: float, sr_to: float) -> np.ndarray:
    """Resample ``[channels, n]`` audio from `sr_from` to `sr_to` Hz (soxr, high quality).

    Offline (whole-signal, delay-compensated by soxr); returns ``[channels, m]`` float32.
    """
    if sr_from == sr_to:
        return np.asarray(audio, dtype=np.float32)
    import soxr

    out = soxr.resample(np.asarray(audio, dtype=np.float32).T, sr_from, sr_to, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


class FileRateStream:
    """Chunk-wise soxr resampling (HQ) of ``[channels, n]`` float32 audio, timing kept exactly.

    ``push(chunk)`` returns what is ready (bursty: soxr holds some samples back);
    ``flush()`` returns the rest once the input has ended.
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int) -> None:
        import soxr

        self.channels = channels
        self._stream = soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality="HQ")

    def push(self, audio: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self._stream.resample_chunk(np.ascontiguousarray(audio.T)).T)

    def flush(self) -> np.ndarray:
        tail = self._stream.resample_chunk(np.zeros((0, self.channels), np.float32), last=True)
        return np.ascontiguousarray(tail.T)
