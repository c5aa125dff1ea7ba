"""Streaming block processor: numpy STFT + the stateful ONNX separator + overlap-add.

Signal path for one block ``[C, n]`` at the host rate::

    block -> (resampler host->model) -> STFT analysis -> separator (once, on all
          frames the block completed) -> mask * spectrum -> irfft -> overlap-add
          -> (resampler model->host) -> carry -> wet [C, n]
    block -> delay line (latency_samples) -> dry [C, n]
    out = g_dry * dry + g_iso * wet      (isolate: 1-mix, mix; remove: 1, -mix)

Latency (``latency_samples``, host samples, exact): at the model rate it is the
card's ``latency_samples`` (1023 for the causal model, 1023 + 256 L for a model that looks
L frames ahead: its spectra wait L frames for their masks). At other host rates the
two linear-phase polyphase resamplers (``fewshot_sep.realtime.resampler``) add
their half-lengths; their centres are chosen so that the chain's delay
``(c_down + c_up + 1023 * C/model) / (C/host)`` (common rate ``C``) is a whole
number of host samples. They produce a deterministic number of samples per
block (no bursts), so the only buffer is a carry of the few wet samples the up
stage computes ahead of the output.

Threading: parameters (``mix``, ``mode``, ``set_conditioning``) may be set from
another thread; they are picked up at the start of the next block.

The parts: `fewshot_sep.realtime.separator_core` (the model-rate core),
`fewshot_sep.realtime.pipeline` (one stream's host-rate state: resamplers, dry delay,
gain ramps) and this module (the engine: parameters, latency, the live and offline paths).
"""

from __future__ import annotations

import os
import weakref
from typing import Callable, Iterable, Iterator

import numpy as np

from fewshot_sep.contract.controls import MODES, check_mix, check_mode  # noqa: F401 - MODES re-exported
from fewshot_sep.contract.signal import SAMPLE_RATE
from fewshot_sep.realtime.model_files import ModelFiles
from fewshot_sep.realtime.offline import OfflineStream
from fewshot_sep.realtime.pipeline import Pipeline
from fewshot_sep.realtime.alignment import LatencyTrim
from fewshot_sep.realtime.resampler import QUALITY_ATTENUATION_DB, chain_centers
from fewshot_sep.realtime.sessions import make_session
from fewshot_sep.utils.errors import UserError

MAX_BLOCK_SIZE = 8192
STEREO_MODES = ("per_channel", "shared")
RESAMPLE_QUALITIES = tuple(QUALITY_ATTENUATION_DB)
SUPPORTED_HOST_RATES = (22050, SAMPLE_RATE, 48000, 88200, 96000)


def check_host_rate(sample_rate: int, model_rate: int) -> None:
    """Raise UserError unless the engine can stream at `sample_rate` Hz (the model's rate or a supported one)."""
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise UserError(f"sample rate {sample_rate!r} is invalid: use a positive integer in Hz, e.g. 44100 or 48000")
    if sample_rate != model_rate and sample_rate not in SUPPORTED_HOST_RATES:
        raise UserError(
            f"sample rate {sample_rate} Hz is not supported: use one of {SUPPORTED_HOST_RATES} "
            "(other rates: resample the audio first)"
        )


MAX_TWO_PLANE_CHUNK_FRAMES = 1024
"""The most frames per offline call of a separator that reads both channels (card
``separator.input_planes`` 2): its pan statistics cost memory and time in frames squared."""


class StreamingSeparator:
    """Isolate or remove an instrument from a stream, block by block (see docs/realtime.md).

    Args:
        model: model folder, ``ModelFiles``, or None for the default model.
        sample_rate: host sample rate in Hz; rates other than the model's go through the resampler.
        num_channels: 1 (mono) or 2 (stereo).
        conditioning: ``[D]`` float32 conditioning vector (a preset's), None = zeros.
        mode: "isolate" (the instrument) or "remove" (the mix minus the instrument).
        mix: wet/dry in 0..1 (0 = the delayed input unchanged).
        stereo: "per_channel" (each channel is a batch item of the separator; one that reads
            both channels, card ``separator.input_planes`` 2, gets the other one beside it) or
            "shared" (one mask from the mid signal (L+R)/2 applied to both channels).
        ramp_seconds: duration of the per-sample ramps for mix / mode changes.
        resample_quality: resampler stop-band for host rates other than the model's:
            "LQ" 60 dB, "MQ" 80 dB, "HQ" 100 dB, "VHQ" 120 dB (pass band flat to 18 kHz either way).
        offline_threads: threads of the offline path (`offline_stream`, `iter_offline`,
            `process_offline`): with 2 or more, per-channel stereo runs each channel in a
            thread of its own (single-threaded sessions); otherwise one session with this
            many intra-op threads.
        offline_chunk_frames: STFT frames per separator call in the offline path (at most
            `MAX_TWO_PLANE_CHUNK_FRAMES` for a separator that reads both channels).
        live_threads: onnxruntime intra-op threads for `process_block` (1 = the live
            configuration).
    """

    max_block_size = MAX_BLOCK_SIZE

    def __init__(
        self,
        model: ModelFiles | str | os.PathLike | None = None,
        sample_rate: int = SAMPLE_RATE,
        num_channels: int = 2,
        conditioning: np.ndarray | None = None,
        mode: str = "isolate",
        mix: float = 1.0,
        *,
        stereo: str = "per_channel",
        ramp_seconds: float = 0.02,
        resample_quality: str = "HQ",
        offline_threads: int = 2,
        offline_chunk_frames: int = 128,
        live_threads: int = 1,
    ):
        self.model = ModelFiles.load(model)
        check_host_rate(sample_rate, self.model.sample_rate)
        if num_channels not in (1, 2):
            raise UserError(f"num_channels {num_channels!r} is invalid: use 1 (mono) or 2 (stereo)")
        if stereo not in STEREO_MODES:
            raise UserError(f"stereo mode {stereo!r} is invalid: use one of {STEREO_MODES}")
        if resample_quality not in RESAMPLE_QUALITIES:
            raise UserError(f"resample_quality {resample_quality!r} is invalid: use one of {RESAMPLE_QUALITIES}")
        if ramp_seconds < 0:
            raise UserError(f"ramp_seconds {ramp_seconds} must be >= 0")
        if offline_chunk_frames < 1:
            raise UserError(f"offline_chunk_frames {offline_chunk_frames} must be >= 1")
        if self.model.input_planes == 2 and offline_chunk_frames > MAX_TWO_PLANE_CHUNK_FRAMES:
            # such a separator's pan statistics build a frames x frames matrix per call
            raise UserError(f"offline_chunk_frames {offline_chunk_frames} is too large for a separator that reads "
                            f"both channels: use 1..{MAX_TWO_PLANE_CHUNK_FRAMES} (the default is 128)")
        self.sample_rate = int(sample_rate)
        self.num_channels = num_channels
        self.stereo = stereo
        self.resample_quality = resample_quality
        self.offline_threads = max(1, int(offline_threads))
        self.offline_chunk_frames = int(offline_chunk_frames)
        self._offline_split = True  # benchmarks switch this off to compare with one 2-thread session
        self._ramp_samples = int(round(ramp_seconds * self.sample_rate))
        self._mode = self._check_mode(mode)
        self._mix = self._check_mix(mix)
        self._conditioning_target = (
            np.zeros(self.model.conditioning_dim, dtype=np.float32)
            if conditioning is None
            else self._check_conditioning(conditioning)
        )
        self.nonfinite_blocks = 0  # input blocks that held NaN/Inf (zeroed)
        self.nonfinite_outputs = 0  # separator calls whose output held NaN/Inf (contained, see SeparatorCore)
        # Latency bookkeeping (see module docstring).
        model_rate = self.model.sample_rate
        self._core_delay = self.model.latency_samples
        if self.sample_rate == model_rate:
            self.latency_samples = self._core_delay
            self._resampler_centers = (0, 0)
        else:
            c_down, c_up, latency = chain_centers(self.sample_rate, model_rate, self._core_delay, resample_quality)
            self._resampler_centers = (c_down, c_up)
            self.latency_samples = latency
        self._live_threads = max(1, int(live_threads))
        self._live_session = make_session(self.model.separator_path, num_threads=self._live_threads)
        self._offline_session = None
        self._offline_channel_sessions: list | None = None
        self._live = Pipeline(self, self._live_session, MAX_BLOCK_SIZE)
        self._offline_streams: weakref.WeakSet[OfflineStream] = weakref.WeakSet()

    # -- parameters -----------------------------------------------------------
    @staticmethod
    def _check_mode(mode: str) -> str:
        return check_mode(mode)

    @staticmethod
    def _check_mix(mix: float) -> float:
        return check_mix(mix)

    def _check_conditioning(self, vector: np.ndarray) -> np.ndarray:
        arr = np.asarray(vector, dtype=np.float32)
        D = self.model.conditioning_dim
        if arr.shape != (D,):
            raise UserError(
                f"conditioning vector has shape {arr.shape}: model {self.model.model_id} expects [{D}] "
                "(build it with fewshot_sep.realtime.conditioning.build_conditioning or a preset made with this model)"
            )
        if not np.all(np.isfinite(arr)):
            raise UserError("conditioning vector contains NaN or Inf: rebuild the preset")
        return arr.copy()

    def _gain_targets(self) -> tuple[float, float]:
        if self._mode == "isolate":
            return 1.0 - self._mix, self._mix
        return 1.0, -self._mix

    def _pipelines(self) -> list[Pipeline]:
        """Every stream parameter changes reach: the live one and the open offline streams'."""
        return [self._live] + [p for stream in list(self._offline_streams) for p in stream.pipelines]

    def _update_gains(self) -> None:
        g_dry, g_iso = self._gain_targets()
        for pipeline in self._pipelines():
            pipeline.ramp_dry.set_target(g_dry, self._ramp_samples)
            pipeline.ramp_iso.set_target(g_iso, self._ramp_samples)

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = self._check_mode(value)
        self._update_gains()

    @property
    def mix(self) -> float:
        return self._mix

    @mix.setter
    def mix(self, value: float) -> None:
        self._mix = self._check_mix(value)
        self._update_gains()

    @property
    def conditioning(self) -> np.ndarray:
        """The target conditioning vector ``[D]`` (a copy)."""
        return self._conditioning_target.copy()

    def set_conditioning(self, vector: np.ndarray, crossfade_seconds: float = 0.05) -> None:
        """Switch the conditioning (preset) with a crossfade of ``crossfade_seconds``.

        During the fade each frame runs on the conditioning interpolated from the
        old vector to the new one (one separator call per frame, so a switch costs
        what a steady stream costs); a change arriving during a fade glides on from
        where that fade had reached.
        """
        arr = self._check_conditioning(vector)
        if crossfade_seconds < 0:
            raise UserError(f"crossfade_seconds {crossfade_seconds} must be >= 0")
        self._conditioning_target = arr
        fade_frames = int(round(crossfade_seconds * self.model.sample_rate / self.model.hop_length))
        for pipeline in self._pipelines():
            pipeline.core.request_conditioning(arr, fade_frames)

    @property
    def underruns(self) -> int:
        """FIFO underruns of the live resampling path (0 unless the lag bound was too small)."""
        return self._live.underruns

    # -- processing -----------------------------------------------------------
    def reset(self) -> None:
        """Clear all stream state (history, states, resamplers); parameters jump to their targets."""
        self._live.reset()

    def warm_up(self, block_size: int) -> None:
        """Run silence through the live path, a conditioning crossfade included, then `reset`.

        A host calls this before real time starts: onnxruntime's first run of each input
        shape allocates (and a crossfade's frames run one call each, a one-frame shape
        a block size may not otherwise use), so without it the first preset switch would do
        that inside the audio callback.
        Counters and parameters are left as they were.
        """
        n = max(1, min(int(block_size), MAX_BLOCK_SIZE))
        silence = np.zeros((self.num_channels, n), dtype=np.float32)
        out = np.empty_like(silence)
        hop = self.model.hop_length
        # Enough blocks for the input to complete a few frames, at any host rate.
        blocks = -(-4 * hop * self.sample_rate // (self.model.sample_rate * n)) + 1
        blocks_seen, outputs_seen = self.nonfinite_blocks, self.nonfinite_outputs
        self.reset()
        for _ in range(blocks):  # the base batch
            self._live.process(silence, out)
        # A fade longer than the warm-up: every frame runs as a call of its own (reset ends it).
        self._live.core.request_conditioning(self._conditioning_target, 1 << 30)
        for _ in range(blocks):
            self._live.process(silence, out)
        self.nonfinite_blocks, self.nonfinite_outputs = blocks_seen, outputs_seen
        self.reset()

    def _check_block(self, block: np.ndarray, max_len: int) -> np.ndarray:
        if not isinstance(block, np.ndarray):
            raise UserError(f"audio must be a numpy array [channels, samples], got {type(block).__name__}")
        if block.ndim == 1 and self.num_channels == 1:
            block = block[None, :]
        if block.ndim != 2 or block.shape[0] != self.num_channels:
            hint = " (looks like [samples, channels]: pass block.T)" if block.ndim == 2 and block.shape[-1] == self.num_channels else ""
            raise UserError(
                f"audio block has shape {block.shape}: expected [{self.num_channels}, n] channels-first{hint}"
            )
        if not np.issubdtype(block.dtype, np.floating):
            raise UserError(f"audio block has dtype {block.dtype}: use float32 samples in [-1, 1]")
        if block.shape[1] > max_len:
            raise UserError(
                f"block of {block.shape[1]} samples is too long: process_block takes 0..{max_len} samples per call "
                "(split it, or use process_offline / iter_offline)"
            )
        return block

    def process_block(self, block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Process one block ``[num_channels, n]`` (n in 0..8192) and return ``[num_channels, n]``.

        The output is the input delayed by ``latency_samples`` and processed.
        With ``out`` (a writable float32 ``[C, n]`` array or view) nothing is allocated.
        """
        block = self._check_block(block, MAX_BLOCK_SIZE)
        n = block.shape[1]
        if out is None:
            out = np.empty((self.num_channels, n), dtype=np.float32)
        elif out.shape != (self.num_channels, n) or out.dtype != np.float32:
            raise UserError(f"out has shape {out.shape} dtype {out.dtype}: expected float32 {(self.num_channels, n)}")
        if n:
            self._live.process(block, out)
        return out

    __call__ = process_block

    def _offline_split_channels(self) -> bool:
        """Offline, per-channel stereo runs each channel in its own thread (see iter_offline)."""
        return (self.num_channels > 1 and self.stereo == "per_channel" and self.offline_threads > 1
                and self._offline_split and self.model.input_planes == 1)  # (a 2-plane separator reads both)

    def _offline_pipelines(self) -> list[Pipeline]:
        """Fresh offline pipelines: one per channel (threaded), or one for all channels.

        Sessions are made on first use and kept; one with the live session's thread count is
        the live session itself (sessions run concurrently; each pipeline binds its own buffers).
        """
        chunk = self.offline_chunk_frames * self.model.hop_length
        if self._offline_split_channels():
            if self._offline_channel_sessions is None:
                self._offline_channel_sessions = [
                    self._live_session if c == 0 and self._live_threads == 1
                    else make_session(self.model.separator_path, num_threads=1)
                    for c in range(self.num_channels)
                ]
            return [Pipeline(self, session, chunk, num_channels=1) for session in self._offline_channel_sessions]
        if self._offline_session is None:
            self._offline_session = (
                self._live_session if self.offline_threads == self._live_threads
                else make_session(self.model.separator_path, num_threads=self.offline_threads)
            )
        return [Pipeline(self, self._offline_session, chunk)]

    def offline_stream(self) -> OfflineStream:
        """A fresh stream through the offline path (`fewshot_sep.realtime.offline`).

        ``stream.process(chunk [C, n]) -> [C, n]`` for chunks of any length, in order; the
        output equals streaming them through a freshly reset engine (delay
        ``latency_samples``). Parameter changes reach it; the live stream is untouched.
        """
        stream = OfflineStream(self._offline_pipelines(), lambda block: self._check_block(block, np.iinfo(np.int64).max))
        self._offline_streams.add(stream)
        return stream

    def iter_offline(
        self,
        chunks: Iterable[np.ndarray],
        total_samples: int | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Iterator[np.ndarray]:
        """Stream a long input through a fresh offline stream (`offline_stream`) in bounded memory.

        With per-channel stereo (the default) and ``offline_threads >= 2`` each
        channel runs through its own pipeline and single-threaded onnxruntime
        session in its own thread, which is faster than one session with two
        intra-op threads on this model (docs/benchmarks.md).

        Args:
            chunks: ``[C, n_i]`` float arrays of any sizes (the stream, in order).
            total_samples: total input length, only passed on to ``progress``.
            progress: called as ``progress(samples_done, total_samples)`` after each chunk.

        Yields:
            ``[C, n_i]`` float32 output for each input chunk (same result as
            streaming the concatenation through a freshly reset engine).
        """
        with self.offline_stream() as stream:
            done = 0
            for chunk in chunks:
                out = stream.process(chunk)
                done += out.shape[1]
                if progress is not None:
                    progress(done, total_samples)
                yield out

    def process_offline(
        self,
        audio: np.ndarray,
        progress: Callable[[int, int], None] | None = None,
        align: bool = False,
    ) -> np.ndarray:
        """Process a whole signal ``[C, n]`` -> ``[C, n]`` with large separator calls.

        Equals streaming ``audio`` through a freshly reset engine (delay
        ``latency_samples``). ``align=True`` returns the output shifted back by
        the latency (input padded with ``latency_samples`` zeros at the end).
        The live stream's state is untouched.
        """
        audio = self._check_block(audio, np.iinfo(np.int64).max)
        n = audio.shape[1]
        L = self.latency_samples if align else 0
        out = np.empty((self.num_channels, n), dtype=np.float32)
        step = self.offline_chunk_frames * self.model.hop_length

        def source() -> Iterator[np.ndarray]:
            for start in range(0, n, step):
                yield audio[:, start : start + step]
            for start in range(0, L, step):
                yield np.zeros((self.num_channels, min(step, L - start)), dtype=np.float32)

        trim, position = LatencyTrim(), 0  # position: aligned samples written
        for y in self.iter_offline(source(), total_samples=n + L, progress=progress):
            y = trim(y, L)[:, : n - position]
            out[:, position : position + y.shape[1]] = y
            position += y.shape[1]
        return out
