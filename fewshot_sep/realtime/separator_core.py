"""The model-rate core of the streaming engine: STFT analysis, separator calls, overlap-add.

`SeparatorCore` turns model-rate audio ``[C, m]`` into the isolated estimate ``[C, m]``,
delayed by a fixed number of samples (the card's latency): frames completed by the
input are analysed, the stateful separator runs once on all of them (states fed back,
look-ahead spectra waiting in a delay line), the masked spectra are resynthesised by
overlap-add. A conditioning change glides: the frames of its fade run one separator call
each, on the conditioning interpolated frame by frame, so a preset switch costs what a
steady block costs (no second batch in the audio callback). Buffers are allocated once,
for the largest chunk (`max_block`); nothing is allocated per call.
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.realtime.model_files import ModelFiles
from fewshot_sep.realtime.stft import StreamingAnalysis, StreamingSynthesis
from fewshot_sep.utils.errors import UserError


def fill_other_plane(magnitude: np.ndarray) -> None:
    """Write each item's other channel into plane 1 of ``magnitude [B, 2, F, T]`` (plane 0 holds
    the channels): for a pair (B = 2) the pair swapped, for one signal (mono, mid) the signal itself.

    One copy per item: a copy between the overlapping views ``[:, 1]`` and ``[::-1, 0]`` would
    make numpy allocate a temporary on every call."""
    batch = magnitude.shape[0]
    for item in range(batch):
        np.copyto(magnitude[item, 1], magnitude[batch - 1 - item, 0])


class SeparatorCore:
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
        # A separator that reads each channel with the other one (card input_planes 2) gets the
        # other channel's magnitude as a second plane; a mono or mid signal is its own other.
        self.planes = model.input_planes
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
        B = self.base_batch
        F = self.n_bins
        self._spectra_line = np.zeros((num_channels, self.lookahead + max_frames, F), dtype=np.complex128)
        self._spectra_waiting = np.zeros((num_channels, self.lookahead, F), dtype=np.complex128)
        self._magnitude = np.zeros(B * self.planes * F * max_frames, dtype=np.float32)
        self._mask = np.zeros(B * F * max_frames, dtype=np.float32)
        self._mid = np.zeros(max_frames * F, dtype=np.complex128)
        self._frames = np.zeros(num_channels * max_frames * self.n_fft, dtype=np.float64)
        self._conditioning = np.zeros((B, model.conditioning_dim), dtype=np.float32)
        self._conditioning[:] = conditioning
        self._states_in = [np.zeros(s.concrete_shape(B), dtype=np.float32) for s in model.states]
        self._states_out = [np.zeros(s.concrete_shape(B), dtype=np.float32) for s in model.states]
        self._bindings: dict[int, object] = {}
        self._check_graph()
        self.nonfinite_masks = 0  # separator calls whose output held Inf/NaN (contained)
        # A conditioning fade: from `_fade_from` to `_fade_to` over `_fade_frames` frames,
        # `_fade_done` of them run; `_fade_step` is scratch for the interpolation.
        self._fading = False
        self._fade_done = 0
        self._fade_frames = 0
        self._fade_from = np.zeros(model.conditioning_dim, dtype=np.float32)
        self._fade_to = np.zeros(model.conditioning_dim, dtype=np.float32)
        self._fade_step = np.zeros(model.conditioning_dim, dtype=np.float32)
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
        """Queue a conditioning change ``vector [D]``, gliding over ``fade_frames`` STFT frames.

        Applied at the start of the next chunk. During the fade each frame runs the separator
        on ``(1 - w) * before + w * vector`` with ``w = (i + 1) / fade_frames`` for the fade's
        i-th frame (the stream states carry on), so the mask moves smoothly from the old
        preset's to the new one's at the cost of a steady stream. A change arriving during a
        fade glides on from wherever that fade had reached.
        """
        self._pending = (vector, fade_frames)

    def _apply_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        vector, fade_frames = pending
        if fade_frames <= 0:
            self._conditioning[:] = vector
            self._fading = False
            return
        self._fade_from[:] = self._conditioning[0]  # where the stream is now (mid-fade included)
        self._fade_to[:] = vector
        self._fading = True
        self._fade_done = 0
        self._fade_frames = fade_frames

    def _advance_fade(self) -> None:
        """Set the conditioning for the next frame of the fade (one frame further)."""
        self._fade_done += 1
        if self._fade_done >= self._fade_frames:
            self._conditioning[:] = self._fade_to
            self._fading = False
            return
        weight = np.float32(self._fade_done / self._fade_frames)
        np.subtract(self._fade_to, self._fade_from, out=self._fade_step)
        np.multiply(self._fade_step, weight, out=self._fade_step)
        np.add(self._fade_from, self._fade_step, out=self._fade_step)
        self._conditioning[:] = self._fade_step

    def snap_conditioning(self, vector: np.ndarray) -> None:
        """Set the conditioning immediately (no fade), e.g. at reset."""
        self._pending = None
        self._fading = False
        self._conditioning[:] = vector

    # -- processing ---------------------------------------------------------
    def reset(self) -> None:
        self.analysis.reset()
        self.synthesis.reset()
        self._spectra_waiting[:] = 0.0
        for state in self._states_in:
            state[:] = 0.0

    def _binding(self, frames: int):
        """The onnxruntime io binding for a call on ``frames`` frames (made once per count)."""
        binding = self._bindings.get(frames)
        if binding is None:
            B, F = self.base_batch, self.n_bins
            binding = self.session.io_binding()
            shape = [B, 1, F, frames]
            binding.bind_input("magnitude", "cpu", 0, np.float32, [B, self.planes, F, frames],
                               self._magnitude.ctypes.data)
            binding.bind_input(
                "conditioning", "cpu", 0, np.float32, [B, self.model.conditioning_dim], self._conditioning.ctypes.data
            )
            binding.bind_output("mask", "cpu", 0, np.float32, shape, self._mask.ctypes.data)
            for spec, s_in, s_out in zip(self.model.states, self._states_in, self._states_out):
                s_shape = list(spec.concrete_shape(B))
                binding.bind_input(spec.name, "cpu", 0, np.float32, s_shape, s_in.ctypes.data)
                binding.bind_output(f"{spec.name}_out", "cpu", 0, np.float32, s_shape, s_out.ctypes.data)
            self._bindings[frames] = binding
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
        done = 0
        while self._fading and done < T:  # a fade's frames: one call each, on their own conditioning
            self._advance_fade()
            self._separate(spectra[:, done : done + 1])
            done += 1
        if done < T:
            self._separate(spectra[:, done:])
        self.synthesis.read(out)

    def _separate(self, spectra: np.ndarray) -> None:
        """Mask ``spectra [C, T, F]`` (consecutive frames of the stream) and overlap-add them."""
        T = spectra.shape[1]
        B, F = self.base_batch, self.n_bins
        magnitude = self._magnitude[: B * self.planes * F * T].reshape(B, self.planes, F, T)
        if self.shared:
            mid = self._mid[: T * F].reshape(1, T, F)
            np.add(spectra[0:1], spectra[1:2], out=mid)
            np.abs(mid, out=magnitude[:1, 0].transpose(0, 2, 1))
            np.multiply(magnitude[:1, :1], np.float32(0.5), out=magnitude[:1, :1])
        else:
            np.abs(spectra, out=magnitude[:, 0].transpose(0, 2, 1))
        if self.planes == 2:
            fill_other_plane(magnitude)
        self.session.run_with_iobinding(self._binding(T))
        for s_in, s_out in zip(self._states_in, self._states_out):
            np.copyto(s_in, s_out)
        flat = self._mask[: B * F * T]
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
        mask = flat.reshape(B, F, T)
        if self.lookahead:
            L = self.lookahead
            line = self._spectra_line
            line[:, :L] = self._spectra_waiting
            line[:, L : L + T] = spectra
            self._spectra_waiting[:] = line[:, T : T + L]  # not yet masked: the next call's
            spectra = line[:, :T]
        np.multiply(spectra, mask.transpose(0, 2, 1), out=spectra)
        frames = self._frames[: self.num_channels * T * self.n_fft].reshape(self.num_channels, T, self.n_fft)
        np.fft.irfft(spectra, n=self.n_fft, axis=-1, out=frames)
        self.synthesis.add_frames(frames)
