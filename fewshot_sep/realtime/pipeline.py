"""Host-rate stream state of the engine: resamplers around the core, dry delay, gain ramps.

`Pipeline` is one stream through a `StreamingSeparator`'s settings: input block
``[C, n]`` -> (resampler host -> model) -> `SeparatorCore` -> (resampler model -> host)
-> wet; the dry input through a delay line of ``latency_samples``; out = g_dry * dry +
g_iso * wet with per-sample ramps (`Ramp`). The engine's live path is one pipeline; its
offline path runs fresh ones (one per channel when the channels run in threads).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fewshot_sep.realtime.resampler import StreamResampler
from fewshot_sep.realtime.separator_core import SeparatorCore


class Ramp:
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


class DelayLine:
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



class Pipeline:
    """Everything with stream state at the host rate: resamplers, core, dry delay, gains.

    `owner` is the `StreamingSeparator` whose settings (rates, latency, stereo mode,
    conditioning, gain targets) the stream takes and whose NaN/Inf counters it adds to.
    """

    def __init__(self, owner: Any, session, max_block: int, num_channels: int | None = None):
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
        self.core = SeparatorCore(
            owner.model, session, C, owner.stereo, core_block, owner._core_delay, owner._conditioning_target
        )
        self.dry_delay = DelayLine(C, owner.latency_samples, max_block)
        self._input = np.zeros((C, max_block), dtype=np.float32)
        self._dry = np.zeros((C, max_block), dtype=np.float32)
        self._wet = np.zeros((C, max_block), dtype=np.float32)
        g_dry, g_iso = owner._gain_targets()
        self.ramp_dry = Ramp(g_dry, max_block)
        self.ramp_iso = Ramp(g_iso, max_block)
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
