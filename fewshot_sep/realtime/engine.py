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
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np

from fewshot_sep.contract.controls import MODES, check_mix, check_mode  # noqa: F401 - MODES re-exported
from fewshot_sep.realtime.model_files import ModelFiles
from fewshot_sep.realtime.resampler import QUALITY_ATTENUATION_DB, StreamResampler, chain_centers
from fewshot_sep.realtime.sessions import make_session
from fewshot_sep.realtime.stft import StreamingAnalysis, StreamingSynthesis
from fewshot_sep.utils.errors import UserError

MAX_BLOCK_SIZE = 8192
STEREO_MODES = ("per_channel", "shared")
RESAMPLE_QUALITIES = tuple(QUALITY_ATTENUATION_DB)
SUPPORTED_HOST_RATES = (22050, 44100, 48000, 88200, 96000)

class _Ramp:
    """A per-sample linear ramp towards a target (for click-free gain changes)."""

    def __init__(self, value: float, max_block: int):
        self.value = float(value)
        self.target = float(value)
        self.step = 0.0
        self.remaining = 0
        self._index = np.arange(1, max_block + 1, dtype=np.float32)
        self._buffer = np.zeros(max_block, dtype=np.float32)

    def set_target(self, target: float, ramp_samples: int) -> None:
        target = float(target)
        if target == self.target:
            return
        self.target = target
        if ramp_samples <= 0:
            self.snap()
            return
        self.remaining = ramp_samples
        self.step = (target - self.value) / ramp_samples

    def snap(self) -> None:
        self.value, self.remaining, self.step = self.target, 0, 0.0

    def next(self, n: int) -> float | np.ndarray:
        """Gains for the next n samples: a float when constant, else a ``[n]`` view."""
        if self.remaining == 0:
            return self.value
        k = min(n, self.remaining)
        out = self._buffer[:n]
        np.multiply(self._index[:k], np.float32(self.step), out=out[:k])
        np.add(out[:k], np.float32(self.value), out=out[:k])
        out[k:] = self.target
        self.remaining -= k
        self.value = self.target if self.remaining == 0 else self.value + self.step * k
        return out


class _DelayLine:
    """Fixed integer delay for ``[C, n]`` blocks, ring buffer."""

    def __init__(self, num_channels: int, delay: int, max_block: int):
        self.delay = delay
        self.size = delay + max_block + 1
        self._ring = np.zeros((num_channels, self.size), dtype=np.float32)
        self._write = 0

    def reset(self) -> None:
        self._ring[:] = 0.0
        self._write = 0

    def process(self, block: np.ndarray, out: np.ndarray) -> None:
        n = block.shape[-1]
        self._copy_in(block, self._write)
        start = (self._write - self.delay) % self.size
        first = min(n, self.size - start)
        out[:, :first] = self._ring[:, start : start + first]
        out[:, first:] = self._ring[:, : n - first]
        self._write = (self._write + n) % self.size

    def _copy_in(self, block: np.ndarray, pos: int) -> None:
        n = block.shape[-1]
        first = min(n, self.size - pos)
        self._ring[:, pos : pos + first] = block[:, :first]
        self._ring[:, : n - first] = block[:, first:]


class _SeparatorCore:
    """Model-rate core: STFT analysis, separator calls, overlap-add; fixed delay.

    ``process(x [C, m], out [C, m])`` writes the isolated estimate delayed by
    ``delay`` samples. Buffers are sized for ``max_block`` samples per chunk;
    longer inputs are split.
    """

    def __init__(
        self,
        model: ModelFiles,
        session,
        num_channels: int,
        stereo: str,
        max_block: int,
        delay: int,
        conditioning: np.ndarray,
    ):
        self.model = model
        self.session = session
        self.num_channels = num_channels
        self.shared = stereo == "shared" and num_channels == 2
        self.base_batch = 1 if self.shared else num_channels
        self.max_block = max_block
        self.n_fft, self.hop = model.n_fft, model.hop_length
        self.n_bins = self.n_fft // 2 + 1
        self.analysis = StreamingAnalysis(num_channels, max_block, self.n_fft, self.hop)
        # A look-ahead model's mask of call frame t belongs to spectrum frame t - L: the spectra
        # wait L frames in a delay line, which is that part of the delay (synthesis adds the rest).
        self.lookahead = model.lookahead_frames
        self.synthesis = StreamingSynthesis(num_channels, max_block, delay - self.lookahead * self.hop,
                                            self.n_fft, self.hop)
        max_frames = self.analysis.max_frames
        max_batch = 2 * self.base_batch  # doubled while a conditioning crossfade runs
        F = self.n_bins
        self._spectra_line = np.zeros((num_channels, self.lookahead + max_frames, F), dtype=np.complex128)
        self._spectra_waiting = np.zeros((num_channels, self.lookahead, F), dtype=np.complex128)
        self._magnitude = np.zeros(max_batch * F * max_frames, dtype=np.float32)
        self._mask = np.zeros(max_batch * F * max_frames, dtype=np.float32)
        self._mid = np.zeros(max_frames * F, dtype=np.complex128)
        self._frames = np.zeros(num_channels * max_frames * self.n_fft, dtype=np.float64)
        self._fade = np.zeros(max_frames, dtype=np.float32)
        self._frame_index = np.arange(1, max_frames + 1, dtype=np.float32)
        self._conditioning = np.zeros((max_batch, model.conditioning_dim), dtype=np.float32)
        self._conditioning[:] = conditioning
        self._states_in = [np.zeros(s.concrete_shape(max_batch), dtype=np.float32) for s in model.states]
        self._states_out = [np.zeros(s.concrete_shape(max_batch), dtype=np.float32) for s in model.states]
        self._bindings: dict[tuple[int, int], object] = {}
        self._check_graph()
        self.nonfinite_masks = 0  # separator calls whose output held Inf/NaN (contained)
        self._crossfading = False
        self._fade_done = 0
        self._fade_frames = 0
        self._pending: tuple[np.ndarray, int] | None = None

    def _check_graph(self) -> None:
        inputs = {i.name for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        need_in = {"magnitude", "conditioning"} | {s.name for s in self.model.states}
        need_out = {"mask"} | {f"{s.name}_out" for s in self.model.states}
        if not need_in <= inputs or not need_out <= outputs:
            raise UserError(
                f"{self.model.separator_path}: graph inputs {sorted(inputs)} / outputs {sorted(outputs)} do not match "
                f"the card (need inputs {sorted(need_in)}, outputs {sorted(need_out)}); re-export the model"
            )

    # -- conditioning -------------------------------------------------------
    def request_conditioning(self, vector: np.ndarray, fade_frames: int) -> None:
        """Queue a conditioning change; applied at the start of the next chunk."""
        self._pending = (vector, fade_frames)

    def _apply_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        vector, fade_frames = pending
        B = self.base_batch
        if self._crossfading:  # a new change during a fade: jump to the fade's target first
            self._finish_fade()
        if fade_frames <= 0:
            self._conditioning[:B] = vector
            return
        self._conditioning[B : 2 * B] = vector
        for state in self._states_in:
            state[B : 2 * B] = state[:B]
        self._crossfading = True
        self._fade_done = 0
        self._fade_frames = fade_frames

    def _finish_fade(self) -> None:
        B = self.base_batch
        self._conditioning[:B] = self._conditioning[B : 2 * B]
        for state in self._states_in:
            state[:B] = state[B : 2 * B]
        self._crossfading = False

    def snap_conditioning(self, vector: np.ndarray) -> None:
        """Set the conditioning immediately (no fade), e.g. at reset."""
        self._pending = None
        self._crossfading = False
        self._conditioning[:] = vector

    # -- processing ---------------------------------------------------------
    def reset(self) -> None:
        self.analysis.reset()
        self.synthesis.reset()
        self._spectra_waiting[:] = 0.0
        for state in self._states_in:
            state[:] = 0.0

    def _binding(self, batch: int, frames: int):
        key = (batch, frames)
        binding = self._bindings.get(key)
        if binding is None:
            F = self.n_bins
            binding = self.session.io_binding()
            shape = [batch, 1, F, frames]
            binding.bind_input("magnitude", "cpu", 0, np.float32, shape, self._magnitude.ctypes.data)
            binding.bind_input(
                "conditioning", "cpu", 0, np.float32, [batch, self.model.conditioning_dim], self._conditioning.ctypes.data
            )
            binding.bind_output("mask", "cpu", 0, np.float32, shape, self._mask.ctypes.data)
            for spec, s_in, s_out in zip(self.model.states, self._states_in, self._states_out):
                s_shape = list(spec.concrete_shape(batch))
                binding.bind_input(spec.name, "cpu", 0, np.float32, s_shape, s_in.ctypes.data)
                binding.bind_output(f"{spec.name}_out", "cpu", 0, np.float32, s_shape, s_out.ctypes.data)
            self._bindings[key] = binding
        return binding

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        """``x [C, m]`` model-rate input -> ``out [C, m]`` isolated estimate, delayed."""
        m = x.shape[-1]
        for start in range(0, m, self.max_block):
            stop = min(m, start + self.max_block)
            self._process_chunk(x[:, start:stop], out[:, start:stop])

    def _process_chunk(self, x: np.ndarray, out: np.ndarray) -> None:
        self._apply_pending()
        spectra = self.analysis.push(x)  # [C, T, F] complex128
        T = spectra.shape[1]
        if T:
            B, F = self.base_batch, self.n_bins
            batch = 2 * B if self._crossfading else B
            magnitude = self._magnitude[: batch * F * T].reshape(batch, 1, F, T)
            if self.shared:
                mid = self._mid[: T * F].reshape(1, T, F)
                np.add(spectra[0:1], spectra[1:2], out=mid)
                np.abs(mid, out=magnitude[:1, 0].transpose(0, 2, 1))
                np.multiply(magnitude[:1], np.float32(0.5), out=magnitude[:1])
            else:
                np.abs(spectra, out=magnitude[:B, 0].transpose(0, 2, 1))
            if self._crossfading:
                magnitude[B:] = magnitude[:B]
            self.session.run_with_iobinding(self._binding(batch, T))
            for s_in, s_out in zip(self._states_in, self._states_out):
                np.copyto(s_in[:batch], s_out[:batch])
            flat = self._mask[: batch * F * T]
            if not np.isfinite(np.dot(flat, flat)):
                # The graph overflowed (conditioning far outside what the encoder makes, or a
                # broken model): never let Inf/NaN reach the output or the stream state. The
                # wet signal is silent for these frames, the states restart, and the owner
                # counts it (hosts turn the count into an error the user sees).
                np.nan_to_num(flat, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
                np.clip(flat, -1e3, 1e3, out=flat)
                for state in self._states_in:
                    state.fill(0.0)
                self.nonfinite_masks += 1
            mask = flat.reshape(batch, 1, F, T)
            mask_now = mask[:B, 0]  # [B, F, T]
            if self._crossfading:
                # weight of the new conditioning for each frame of this call
                fade = self._fade[:T]
                np.add(self._frame_index[:T], np.float32(self._fade_done), out=fade)
                np.multiply(fade, np.float32(1.0 / self._fade_frames), out=fade)
                np.minimum(fade, np.float32(1.0), out=fade)
                mask_new = mask[B:, 0]
                np.subtract(mask_new, mask_now, out=mask_new)
                np.multiply(mask_new, fade, out=mask_new)
                np.add(mask_now, mask_new, out=mask_now)
                self._fade_done += T
                if self._fade_done >= self._fade_frames:
                    self._finish_fade()
            if self.lookahead:
                L = self.lookahead
                line = self._spectra_line
                line[:, :L] = self._spectra_waiting
                line[:, L : L + T] = spectra
                self._spectra_waiting[:] = line[:, T : T + L]  # not yet masked: the next call's
                spectra = line[:, :T]
            np.multiply(spectra, mask_now.transpose(0, 2, 1), out=spectra)
            frames = self._frames[: self.num_channels * T * self.n_fft].reshape(self.num_channels, T, self.n_fft)
            np.fft.irfft(spectra, n=self.n_fft, axis=-1, out=frames)
            self.synthesis.add_frames(frames)
        self.synthesis.read(out)


class _Pipeline:
    """Everything with stream state at the host rate: resamplers, core, dry delay, gains."""

    def __init__(self, owner: "StreamingSeparator", session, max_block: int, num_channels: int | None = None):
        self.owner = owner
        C = owner.num_channels if num_channels is None else num_channels
        self.max_block = max_block
        self.resampling = owner.sample_rate != owner.model.sample_rate
        host, model_rate = owner.sample_rate, owner.model.sample_rate
        if self.resampling:
            c_down, c_up = owner._resampler_centers
            quality = owner.resample_quality
            self.down = StreamResampler(host, model_rate, C, max_block, center=c_down, quality=quality)
            core_block = self.down.max_out
            self.up = StreamResampler(model_rate, host, C, core_block, center=c_up, quality=quality)
            self._core_in = np.zeros((C, core_block), dtype=np.float32)
            self._core_out = np.zeros((C, core_block), dtype=np.float32)
            # wet host samples computed ahead of the output (a few at most, see process)
            self._carry = np.zeros((C, self.up.max_out + 64), dtype=np.float32)
        else:
            core_block = max_block
        self.core = _SeparatorCore(
            owner.model, session, C, owner.stereo, core_block, owner._core_delay, owner._conditioning_target
        )
        self.dry_delay = _DelayLine(C, owner.latency_samples, max_block)
        self._input = np.zeros((C, max_block), dtype=np.float32)
        self._dry = np.zeros((C, max_block), dtype=np.float32)
        self._wet = np.zeros((C, max_block), dtype=np.float32)
        g_dry, g_iso = owner._gain_targets()
        self.ramp_dry = _Ramp(g_dry, max_block)
        self.ramp_iso = _Ramp(g_iso, max_block)
        self.reset()

    def reset(self) -> None:
        self.core.reset()
        self.core.snap_conditioning(self.owner._conditioning_target)
        self.dry_delay.reset()
        self.ramp_dry.snap()
        self.ramp_iso.snap()
        self._underruns = 0
        self._nonfinite_seen = self.core.nonfinite_masks
        if self.resampling:
            self.down.reset()
            self.up.reset()
            self._carried = 0

    @property
    def underruns(self) -> int:
        return self._underruns

    def process(self, block: np.ndarray, out: np.ndarray) -> None:
        """``block [C, n]`` (any float dtype, any strides) -> ``out [C, n]``."""
        n = block.shape[-1]
        x = self._input[:, :n]
        np.copyto(x, block, casting="same_kind")
        # NaN/Inf check without a temporary: a channel's energy is finite iff its samples are.
        for c in range(x.shape[0]):
            if not np.isfinite(np.dot(x[c], x[c])):
                np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
                np.clip(x, -1e6, 1e6, out=x)
                self.owner.nonfinite_blocks += 1
                break
        dry = self._dry[:, :n]
        self.dry_delay.process(x, dry)
        wet = self._wet[:, :n]
        if self.resampling:
            # After N host samples the down stage has made ceil(N*model/host) model
            # samples and the up stage at least N host samples from them, so the
            # carry holds the few computed ahead and never runs dry.
            m = self.down.process(x, self._core_in)
            if m:
                self.core.process(self._core_in[:, :m], self._core_out[:, :m])
                self._carried += self.up.process(self._core_out[:, :m], self._carry[:, self._carried :])
            have = min(n, self._carried)
            wet[:, :have] = self._carry[:, :have]
            if have < n:  # cannot happen (see above); a dropout, never a timing shift
                wet[:, have:] = 0.0
                self._underruns += 1
            rest = self._carried - have
            if rest:
                self._carry[:, :rest] = self._carry[:, have : have + rest]
            self._carried = rest
        else:
            self.core.process(x, wet)
        if self.core.nonfinite_masks != self._nonfinite_seen:
            self.owner.nonfinite_outputs += self.core.nonfinite_masks - self._nonfinite_seen
            self._nonfinite_seen = self.core.nonfinite_masks
        g_dry = self.ramp_dry.next(n)
        g_iso = self.ramp_iso.next(n)
        np.multiply(wet, g_iso, out=out)
        np.multiply(dry, g_dry, out=dry)
        np.add(out, dry, out=out)


def check_host_rate(sample_rate: int, model_rate: int) -> None:
    """Raise UserError unless the engine can stream at `sample_rate` Hz (the model's rate or a supported one)."""
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise UserError(f"sample rate {sample_rate!r} is invalid: use a positive integer in Hz, e.g. 44100 or 48000")
    if sample_rate != model_rate and sample_rate not in SUPPORTED_HOST_RATES:
        raise UserError(
            f"sample rate {sample_rate} Hz is not supported: use one of {SUPPORTED_HOST_RATES} "
            "(other rates: resample the audio first)"
        )


class StreamingSeparator:
    """Isolate or remove an instrument from a stream, block by block (see docs/realtime.md).

    Args:
        model: model folder, ``ModelFiles``, or None for the default model.
        sample_rate: host sample rate in Hz; rates other than the model's go through the resampler.
        num_channels: 1 (mono) or 2 (stereo).
        conditioning: ``[D]`` float32 conditioning vector (a preset's), None = zeros.
        mode: "isolate" (the instrument) or "remove" (the mix minus the instrument).
        mix: wet/dry in 0..1 (0 = the delayed input unchanged).
        stereo: "per_channel" (each channel is a batch item of the separator) or
            "shared" (one mask from the mid signal (L+R)/2 applied to both channels).
        ramp_seconds: duration of the per-sample ramps for mix / mode changes.
        resample_quality: resampler stop-band for host rates other than the model's:
            "LQ" 60 dB, "MQ" 80 dB, "HQ" 100 dB, "VHQ" 120 dB (pass band flat to 18 kHz either way).
        offline_threads: onnxruntime intra-op threads for the offline path.
        offline_chunk_frames: STFT frames per separator call in the offline path.
        live_threads: onnxruntime intra-op threads for `process_block` (1 = the live
            configuration; more can help file processing on free cores).
    """

    max_block_size = MAX_BLOCK_SIZE

    def __init__(
        self,
        model: ModelFiles | str | os.PathLike | None = None,
        sample_rate: int = 44100,
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
        self.nonfinite_outputs = 0  # separator calls whose output held NaN/Inf (contained, see _SeparatorCore)
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
        self._live_session = make_session(self.model.separator_path, num_threads=max(1, int(live_threads)))
        self._offline_session = None
        self._offline_channel_sessions: list | None = None
        self._live = _Pipeline(self, self._live_session, MAX_BLOCK_SIZE)

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

    def _update_gains(self) -> None:
        g_dry, g_iso = self._gain_targets()
        self._live.ramp_dry.set_target(g_dry, self._ramp_samples)
        self._live.ramp_iso.set_target(g_iso, self._ramp_samples)

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

        During the fade the separator runs on both vectors and the masks are
        blended frame by frame. A change arriving during a fade first jumps to
        that fade's target.
        """
        arr = self._check_conditioning(vector)
        if crossfade_seconds < 0:
            raise UserError(f"crossfade_seconds {crossfade_seconds} must be >= 0")
        self._conditioning_target = arr
        fade_frames = int(round(crossfade_seconds * self.model.sample_rate / self.model.hop_length))
        self._live.core.request_conditioning(arr, fade_frames)

    @property
    def underruns(self) -> int:
        """FIFO underruns of the live resampling path (0 unless the lag bound was too small)."""
        return self._live.underruns

    # -- processing -----------------------------------------------------------
    def reset(self) -> None:
        """Clear all stream state (history, states, resamplers); parameters jump to their targets."""
        self._live.reset()

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
        return self.num_channels > 1 and self.stereo == "per_channel" and self.offline_threads > 1 and self._offline_split

    def _offline_pipelines(self) -> list[_Pipeline]:
        """Fresh offline pipelines: one per channel (threaded), or one for all channels."""
        chunk = self.offline_chunk_frames * self.model.hop_length
        if self._offline_split_channels():
            if self._offline_channel_sessions is None:
                self._offline_channel_sessions = [
                    make_session(self.model.separator_path, num_threads=1) for _ in range(self.num_channels)
                ]
            return [_Pipeline(self, session, chunk, num_channels=1) for session in self._offline_channel_sessions]
        if self._offline_session is None:
            self._offline_session = make_session(self.model.separator_path, num_threads=self.offline_threads)
        return [_Pipeline(self, self._offline_session, chunk)]

    def iter_offline(
        self,
        chunks: Iterable[np.ndarray],
        total_samples: int | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Iterator[np.ndarray]:
        """Stream a long input through a fresh pipeline in bounded memory.

        With per-channel stereo (the default) and ``offline_threads >= 2`` each
        channel runs through its own pipeline and single-threaded onnxruntime
        session in its own thread (the channels are independent batch items;
        onnxruntime and numpy's FFT release the GIL), which is faster than one
        session with two intra-op threads on this model (docs/realtime.md).

        Args:
            chunks: ``[C, n_i]`` float arrays of any sizes (the stream, in order).
            total_samples: total input length, only passed on to ``progress``.
            progress: called as ``progress(samples_done, total_samples)`` after each chunk.

        Yields:
            ``[C, n_i]`` float32 output for each input chunk (same result as
            streaming the concatenation through a freshly reset engine).
        """
        pipelines = self._offline_pipelines()
        step = pipelines[0].max_block

        def run(pipeline: _Pipeline, chunk: np.ndarray, out: np.ndarray) -> None:
            for start in range(0, chunk.shape[1], step):
                stop = min(chunk.shape[1], start + step)
                pipeline.process(chunk[:, start:stop], out[:, start:stop])

        pool = ThreadPoolExecutor(len(pipelines), thread_name_prefix="fewshot-offline") if len(pipelines) > 1 else None
        try:
            done = 0
            for chunk in chunks:
                chunk = self._check_block(chunk, np.iinfo(np.int64).max)
                n = chunk.shape[1]
                out = np.empty((self.num_channels, n), dtype=np.float32)
                if pool is None:
                    run(pipelines[0], chunk, out)
                else:
                    jobs = [pool.submit(run, p, chunk[c : c + 1], out[c : c + 1]) for c, p in enumerate(pipelines)]
                    for job in jobs:
                        job.result()
                done += n
                if progress is not None:
                    progress(done, total_samples)
                yield out
        finally:
            if pool is not None:
                pool.shutdown(wait=True)

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

        position = 0  # position in the (input + padding) stream
        for y in self.iter_offline(source(), total_samples=n + L, progress=progress):
            k = y.shape[1]
            lo, hi = max(position, L), min(position + k, L + n)
            if hi > lo:
                out[:, lo - L : hi - L] = y[:, lo - position : hi - position]
            position += k
        return out
