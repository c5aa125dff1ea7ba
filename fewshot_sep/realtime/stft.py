"""Numpy STFT with the project's exact framing, offline and streaming.

Framing (docs/internals.md; the torch twin is ``fewshot_sep.model.stft``):
``n_fft = 1024``, ``hop = 256``, periodic Hann window ``w``, no centring, no
normalisation. Frame k covers input samples ``[k*hop + hop - n_fft, k*hop + hop)``
(zeros before sample 0), so ``n`` input samples complete ``n // hop`` frames.
Synthesis is ``irfft(spectrum) * w``, overlap-add, divided by the constant
``sum_j w[n + j*hop]^2`` (1.5 for ``hop = n_fft/4``). Output sample n is input
sample ``n - (n_fft - 1)``: a mask of ones gives the input delayed by 1023
samples. Like the torch version, the overlap-add of the first frames at
negative times (input samples ``-(n_fft-hop)..-1``) is kept, not zeroed; only
output samples before ``hop - 1`` are exact zeros.

The streaming classes keep preallocated buffers and allocate no audio-sized
arrays per call: :class:`StreamingAnalysis` turns arbitrary blocks into the
spectra of the frames they completed, :class:`StreamingSynthesis`
overlap-adds processed frames and hands out output samples with a fixed delay.
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.contract.signal import HOP, N_FFT


def hann_periodic(n_fft: int = N_FFT) -> np.ndarray:
    """Periodic Hann window ``[n_fft]`` float32 (same values as torch.hann_window)."""
    n = np.arange(n_fft, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)).astype(np.float32)


def overlap_gain(n_fft: int = N_FFT, hop: int = HOP) -> float:
    """The constant ``sum_j w[n + j*hop]^2`` of the squared periodic Hann window.

    Raises ValueError when the sum is not constant (hop does not divide n_fft
    into a constant-overlap-add configuration).
    """
    if n_fft % hop:
        raise ValueError(f"hop {hop} must divide n_fft {n_fft}")
    w2 = hann_periodic(n_fft).astype(np.float64) ** 2
    sums = w2.reshape(-1, hop).sum(axis=0)
    if np.ptp(sums) > 1e-6:
        raise ValueError(f"window^2 does not overlap-add to a constant for n_fft={n_fft}, hop={hop}")
    return float(sums.mean())


def num_frames(num_samples: int, hop: int = HOP) -> int:
    """Number of complete frames for ``num_samples`` input samples."""
    return num_samples // hop


def stft(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Complex STFT of a whole signal with the streaming framing.

    Args:
        audio: ``[..., n_samples]`` float waveform.

    Returns:
        ``[..., n_fft/2 + 1, n_samples // hop]`` complex64 (bins, frames).
    """
    audio = np.asarray(audio, dtype=np.float32)
    lead, n = audio.shape[:-1], audio.shape[-1]
    frames = num_frames(n, hop)
    if frames == 0:
        return np.zeros((*lead, n_fft // 2 + 1, 0), dtype=np.complex64)
    pad = [(0, 0)] * len(lead) + [(n_fft - hop, 0)]
    padded = np.pad(audio, pad)[..., : (frames - 1) * hop + n_fft]
    framed = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :]
    # float64 FFT: numpy's float32 rfft path is several times slower.
    spec = np.fft.rfft(framed * hann_periodic(n_fft).astype(np.float64), axis=-1).astype(np.complex64)
    return np.swapaxes(spec, -1, -2)


def istft(spec: np.ndarray, num_samples: int, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Inverse of :func:`stft` with the streaming alignment (delay ``n_fft - 1``).

    Args:
        spec: ``[..., n_fft/2 + 1, frames]`` complex spectrum.
        num_samples: length of the output (normally the input length).

    Returns:
        ``[..., num_samples]`` float32; sample n is input sample ``n - (n_fft - 1)``.
    """
    lead = spec.shape[:-2]
    frames = spec.shape[-1]
    out = np.zeros((*lead, num_samples), dtype=np.float32)
    if frames == 0:
        return out
    window = hann_periodic(n_fft).astype(np.float64) / overlap_gain(n_fft, hop)
    synth = (np.fft.irfft(np.swapaxes(spec, -1, -2), n=n_fft, axis=-1) * window).astype(np.float32)
    # Overlap-add through hop-sized chunks: frame k, chunk q lands on chunk k+q.
    per = n_fft // hop
    ola = np.zeros((*lead, frames + per - 1, hop), dtype=np.float32)
    chunks = synth.reshape(*lead, frames, per, hop)
    for q in range(per):
        ola[..., q : q + frames, :] += chunks[..., :, q, :]
    ola = ola.reshape(*lead, -1)
    # ola index m is input sample m - (n_fft - hop); output n = input n - (n_fft - 1).
    shift = hop - 1
    take = min(num_samples - shift, ola.shape[-1])
    if take > 0:
        out[..., shift : shift + take] = ola[..., :take]
    return out


class StreamingAnalysis:
    """Cached-input STFT analysis for blocks of any size.

    ``push(block)`` appends ``[num_channels, n]`` samples and returns the
    spectra of the frames the block completed as a view ``[num_channels, T,
    n_fft/2 + 1]`` complex128 into a preallocated buffer (valid until the next
    call). ``T`` is 0 when the block completed no frame. The FFT runs in
    float64 (numpy's float32 rfft is several times slower and allocates).
    """

    def __init__(self, num_channels: int, max_block: int, n_fft: int = N_FFT, hop: int = HOP):
        self.num_channels = num_channels
        self.max_block = max_block
        self.n_fft = n_fft
        self.hop = hop
        self.n_bins = n_fft // 2 + 1
        self.max_frames = max_block // hop + 1
        self.window = hann_periodic(n_fft).astype(np.float64)
        self._window_parts = self.window.reshape(n_fft // hop, hop)
        # Input history; compaction copies at most n_fft - 1 samples, and the
        # capacity keeps source and destination of that copy disjoint.
        self._capacity = 2 * (n_fft + max_block)
        self._buffer = np.zeros((num_channels, self._capacity), dtype=np.float32)
        self._frames = np.zeros(num_channels * self.max_frames * n_fft, dtype=np.float64)
        self._spectra = np.zeros(num_channels * self.max_frames * self.n_bins, dtype=np.complex128)
        self.reset()

    def reset(self) -> None:
        """Forget all input (stream restarts at sample 0 with zero history)."""
        self._buffer[:] = 0.0
        self._start = 0  # buffer index of the next frame's first sample
        self._end = self.n_fft - self.hop  # zero history = samples -(n_fft-hop)..-1
        self.frames_done = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        """Append ``block [num_channels, n]`` (n <= max_block); return new spectra ``[C, T, F]``."""
        n = block.shape[-1]
        if n > self.max_block:
            raise ValueError(f"block of {n} samples exceeds max_block {self.max_block}")
        if self._end + n > self._capacity:
            keep = self._end - self._start
            self._buffer[:, :keep] = self._buffer[:, self._start : self._end]
            self._start, self._end = 0, keep
        self._buffer[:, self._end : self._end + n] = block
        self._end += n
        available = self._end - self._start
        count = 0 if available < self.n_fft else (available - self.n_fft) // self.hop + 1
        C = self.num_channels
        spectra = self._spectra[: C * count * self.n_bins].reshape(C, count, self.n_bins)
        if count == 0:
            return spectra
        # _start is always a multiple of hop, so the span splits into hop-sized
        # chunks and frame t is chunks t..t+per-1 (no stride tricks, no allocation).
        per = self.n_fft // self.hop
        span = self._buffer[:, self._start : self._start + (count + per - 1) * self.hop]
        chunks = span.reshape(C, count + per - 1, self.hop)
        frames = self._frames[: C * count * self.n_fft].reshape(C, count, self.n_fft)
        parts = frames.reshape(C, count, per, self.hop)
        for q in range(per):
            np.multiply(chunks[:, q : q + count], self._window_parts[q], out=parts[:, :, q])
        np.fft.rfft(frames, axis=-1, out=spectra)
        self._start += count * self.hop
        self.frames_done += count
        return spectra


class StreamingSynthesis:
    """Overlap-add synthesis with a fixed output delay.

    ``add_frames(frames)`` takes float64 time-domain frames ``[C, T, n_fft]`` (the
    irfft of the processed spectra, NOT yet windowed; they are windowed and
    scaled in place) in stream order. ``read(out)`` fills ``out [C, n]`` with
    the next n output samples, where output sample n is input sample
    ``n - delay`` (``delay >= n_fft - 1``; the caller must have added every
    frame completed by input sample n, which a block processor does by adding
    the frames of a block before reading its output).
    """

    def __init__(self, num_channels: int, max_block: int, delay: int, n_fft: int = N_FFT, hop: int = HOP):
        if delay < n_fft - 1:
            raise ValueError(f"delay {delay} is below the STFT latency {n_fft - 1}")
        self.num_channels = num_channels
        self.n_fft = n_fft
        self.hop = hop
        self.delay = delay
        self.synthesis_window = hann_periodic(n_fft).astype(np.float64) / overlap_gain(n_fft, hop)
        # ola index s = input sample s - (n_fft - hop); output n reads ola n - lead.
        self._lead = delay - (n_fft - hop)
        self._capacity = 2 * (delay + 2 * n_fft + max_block + hop)
        self._acc = np.zeros((num_channels, self._capacity), dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Zero the overlap-add buffer; the next read is output sample 0."""
        self._acc[:] = 0.0
        self._base = -self._lead  # ola index of _acc[0]
        self._read = 0  # _acc index of the next output sample
        self._frames_done = 0

    def add_frames(self, frames: np.ndarray) -> None:
        """Window, scale and overlap-add ``frames [C, T, n_fft]`` (modified in place)."""
        count = frames.shape[1]
        if count == 0:
            return
        np.multiply(frames, self.synthesis_window, out=frames)
        start = self._frames_done * self.hop - self._base
        stop = start + (count - 1) * self.hop + self.n_fft
        if stop > self._capacity:
            self._compact()
            start = self._frames_done * self.hop - self._base
            stop = start + (count - 1) * self.hop + self.n_fft
        per = self.n_fft // self.hop
        chunks = self._acc[:, start:stop].reshape(self.num_channels, count + per - 1, self.hop)
        parts = frames.reshape(self.num_channels, count, per, self.hop)
        for q in range(per):
            target = chunks[:, q : q + count]
            np.add(target, parts[:, :, q], out=target)
        self._frames_done += count

    def _compact(self) -> None:
        dirty_end = (self._frames_done - 1) * self.hop + self.n_fft - self._base if self._frames_done else 0
        dirty_end = max(dirty_end, self._read)
        keep = dirty_end - self._read
        self._acc[:, :keep] = self._acc[:, self._read : dirty_end]
        self._acc[:, keep:dirty_end] = 0.0
        self._base += self._read
        self._read = 0

    def available(self) -> int:
        """Output samples that are final (all their frames added)."""
        complete_ola = self._frames_done * self.hop  # ola indices below this are final
        return complete_ola - self._base - self._read

    def read(self, out: np.ndarray) -> None:
        """Fill ``out [C, n]`` with the next n output samples."""
        n = out.shape[-1]
        if n > self.available():
            raise RuntimeError(f"synthesis underrun: {n} samples requested, {self.available()} final")
        if self._read + n > self._capacity:
            self._compact()
        out[...] = self._acc[:, self._read : self._read + n]
        self._read += n
