"""Building blocks: cached causal convolution and FiLM.

Every time convolution is causal: a layer with time kernel ``kt`` keeps the
last ``kt - 1`` input frames as an explicit state tensor. The state is
concatenated in front of the new frames along time and the tail of the
concatenation becomes the next state ("cached convolution"), so a full pass
over T frames equals T single-frame calls with the state passed along. With
zero states it is exactly a zero-padded causal convolution, so training uses the
same code path as streaming. Only ``cat`` and ``slice`` are used, which ONNX
opset 17 exports with dynamic T and B.
"""

from __future__ import annotations

import torch
from torch import nn


class CachedCausalConv2d(nn.Module):
    """Conv over (frequency, time), causal in time, strided in frequency only.

    Input ``[B, C_in, F_in, T]`` plus state ``[B, C_in, F_in, kt - 1]``;
    output ``[B, C_out, F_out, T]`` plus the new state. Lookahead 0.
    """

    def __init__(self, in_channels: int, out_channels: int, freq_kernel: int, time_kernel: int,
                 freq_stride: int = 1, freq_bins_in: int = 0, freq_padding: int | None = None) -> None:
        super().__init__()
        if time_kernel < 2:
            raise ValueError("CachedCausalConv2d needs time_kernel >= 2; use FrameConv for 1")
        self.in_channels = in_channels
        self.time_kernel = time_kernel
        self.freq_bins_in = freq_bins_in
        self.conv = nn.Conv2d(in_channels, out_channels, (freq_kernel, time_kernel),
                              stride=(freq_stride, 1),
                              padding=((freq_kernel - 1) // 2 if freq_padding is None else freq_padding, 0))

    @property
    def state_shape(self) -> list[int | None]:
        """State shape with ``None`` for the batch dimension."""
        return [None, self.in_channels, self.freq_bins_in, self.time_kernel - 1]

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        full = torch.cat([state, x], dim=-1)
        new_state = full[..., -(self.time_kernel - 1):]
        return self.conv(full), new_state


class FiLM(nn.Module):
    """Feature-wise affine modulation ``x * (1 + gamma) + beta`` from a context vector.

    ``gamma``/``beta`` are ``[B, C]`` computed from the context ``[B, H]`` and
    broadcast over every trailing (frequency, time) position of ``x [B, C, ...]``.
    Initialised to the identity so an untrained FiLM does not disturb the U-Net.
    """

    def __init__(self, context_dim: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(context_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(context).chunk(2, dim=-1)
        # Trailing singleton dims by unsqueeze (static axes): a reshape to a shape read
        # from the tensor would export as several shape-arithmetic nodes per call.
        for _ in range(x.dim() - 2):
            gamma, beta = gamma.unsqueeze(-1), beta.unsqueeze(-1)
        return x * (1.0 + gamma) + beta


class BandSplit(nn.Module):
    """Full-resolution spectrum -> band features, causal in time (kernel 2 frames).

    ``x [B, 1, F, T]`` (F = n_bands * band_width) is cut into ``n_bands``
    half-overlapping bands of ``2 * band_width`` bins centred on each chunk of
    ``band_width`` bins; each band of the current and the previous frame is
    mapped by one shared linear layer to ``channels`` features:
    ``[B, channels, n_bands, T]``. State: the previous input frame
    ``[B, 1, F, 1]``. Written with pad/reshape/concat/matmul, which trains much
    faster on CPU than a 1-input-channel strided convolution and exports to ONNX.
    """

    def __init__(self, n_bins: int, band_width: int, channels: int) -> None:
        super().__init__()
        if n_bins % band_width:
            raise ValueError(f"band_width {band_width} must divide {n_bins} bins")
        self.n_bins = n_bins
        self.band_width = band_width
        self.n_bands = n_bins // band_width
        self.proj = nn.Linear(2 * 2 * band_width, channels)

    @property
    def state_shape(self) -> list[int | None]:
        return [None, 1, self.n_bins, 1]

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        full = torch.cat([state, x], dim=-1)                      # [B, 1, F, T + 1]
        new_state = full[..., -1:]
        half = self.band_width // 2
        padded = nn.functional.pad(full[:, 0], (0, 0, half, self.band_width - half))  # [B, F + w, T + 1]
        batch = padded.shape[0]
        chunks = padded.reshape(batch, self.n_bands + 1, self.band_width, -1)
        bands = torch.cat([chunks[:, :-1], chunks[:, 1:]], dim=2)  # [B, n_bands, 2w, T + 1]
        feats = torch.cat([bands[..., :-1], bands[..., 1:]], dim=2)  # previous + current frame
        out = self.proj(feats.permute(0, 3, 1, 2))                # [B, T, n_bands, C]
        return out.permute(0, 3, 2, 1), new_state


class BandMerge(nn.Module):
    """Band features ``[B, C, n_bands, T]`` -> per-bin values ``[B, 1, n_bands * band_width, T]``."""

    def __init__(self, channels: int, band_width: int) -> None:
        super().__init__()
        self.band_width = band_width
        self.proj = nn.Linear(channels, band_width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        batch, _, n_bands, frames = h.shape
        out = self.proj(h.permute(0, 3, 2, 1))                    # [B, T, n_bands, w]
        return out.reshape(batch, frames, n_bands * self.band_width).transpose(1, 2).unsqueeze(1)


def band_to_bins(proj: nn.Linear, h: torch.Tensor, band_width: int, per_bin: int) -> torch.Tensor:
    """Per-bin features from band features: ``proj`` maps each band's ``C`` features to
    ``band_width * per_bin``; ``h [B, C, n_bands, T] -> [B, per_bin, n_bands * band_width, T]``."""
    batch, _, n_bands, frames = h.shape
    z = proj(h.permute(0, 3, 2, 1))                                # [B, T, n_bands, w * q]
    return z.reshape(batch, frames, n_bands * band_width, per_bin).permute(0, 3, 2, 1)


class FineHead(nn.Module):
    """Full-resolution mask-logit refinement: each bin sees its neighbours, not only its band.

    The band merge alone makes each bin's logit a linear function of its band's
    features, so bins inside one band cannot follow individual harmonics. This
    head gives every bin ``per_bin`` features from its band (a linear map like
    :class:`BandMerge`) plus the input log-magnitude of the current and the
    previous frame, and runs two per-frame convolutions along frequency
    (kernels 5 and 3 bins). Inputs: band features ``[B, C, n_bands, T]``,
    ``x [B, 1, F, T]`` and ``x_prev [B, 1, F, T]`` (``x`` one frame earlier);
    output: logits ``[B, 1, F, T]``. The last layer starts at zero, so adding the
    head to a trained model does not change its output until it learns.
    No time context of its own: lookahead 0, no state.
    """

    def __init__(self, channels: int, band_width: int, hidden: int, per_bin: int = 4, extra_inputs: int = 0) -> None:
        super().__init__()
        self.band_width = band_width
        self.per_bin = per_bin
        self.band_proj = nn.Linear(channels, band_width * per_bin)
        self.conv1 = nn.Conv2d(per_bin + 2, hidden, (5, 1), padding=(2, 0))
        self.conv2 = nn.Conv2d(hidden, 1, (3, 1), padding=(1, 0))
        self.act = nn.LeakyReLU(0.1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        # Optional extra per-bin input planes (the stereo model's level difference, this frame
        # and the one before), through their own first-layer weights that start at zero, so a
        # trained head's logits stay exactly as they were until these weights learn.
        self.conv1_extra = nn.Conv2d(extra_inputs, hidden, (5, 1), padding=(2, 0), bias=False) if extra_inputs else None
        if self.conv1_extra is not None:
            nn.init.zeros_(self.conv1_extra.weight)

    def forward(self, h: torch.Tensor, x: torch.Tensor, x_prev: torch.Tensor,
                extra: torch.Tensor | None = None) -> torch.Tensor:
        """``extra [B, extra_inputs, F, T]``: the extra planes (required when the head has them)."""
        per_bin = band_to_bins(self.band_proj, h, self.band_width, self.per_bin).transpose(2, 3)  # [B, q, T, F]
        # The convolutions run along the last axis ([B, C, T, F], kernels (1, k)): the same
        # weights as the (k, 1) kernels over [B, C, F, T], but onnxruntime's blocked convolution
        # is several times faster on long rows than on the F x 1 columns of a streamed frame.
        z = torch.cat([per_bin, x.transpose(2, 3), x_prev.transpose(2, 3)], dim=1)
        z = nn.functional.conv2d(z, self.conv1.weight.transpose(2, 3), self.conv1.bias, padding=(0, 2))
        if self.conv1_extra is not None:
            z = z + nn.functional.conv2d(extra.transpose(2, 3), self.conv1_extra.weight.transpose(2, 3), padding=(0, 2))
        z = self.act(z)
        z = nn.functional.conv2d(z, self.conv2.weight.transpose(2, 3), self.conv2.bias, padding=(0, 1))
        return z.transpose(2, 3)                                   # [B, 1, F, T]


class BandGRU(nn.Module):
    """Per-band recurrent time context, added as a residual: ``h + proj(GRU(FiLM(h)))``.

    ``h [B, C, n_bands, T]``: every band is its own sequence (one GRU shared by
    all bands), so each band keeps a memory of its own past (notes, onsets)
    beyond the few frames of the causal convolutions. The FiLM lets the
    conditioning steer what the memory keeps. State ``[B, n_bands, H]``;
    lookahead 0. The output projection starts at zero, so inserting the layer
    into a trained model does not change its output until it learns.
    """

    def __init__(self, channels: int, n_bands: int, hidden: int, context_dim: int) -> None:
        super().__init__()
        self.n_bands = n_bands
        self.hidden = hidden
        self.film = FiLM(context_dim, channels)
        self.gru = nn.GRU(channels, hidden, batch_first=True)
        self.proj = nn.Linear(hidden, channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    @property
    def state_shape(self) -> list[int | None]:
        return [None, self.n_bands, self.hidden]

    def forward(self, h: torch.Tensor, context: torch.Tensor, state: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, chans, bands, frames = h.shape
        z = self.film(h, context).permute(0, 2, 3, 1).reshape(batch * bands, frames, chans)
        g, h_n = self.gru(z, state.reshape(1, batch * bands, self.hidden))
        out = self.proj(g).reshape(batch, bands, frames, chans).permute(0, 3, 1, 2)
        return h + out, h_n.reshape(batch, bands, self.hidden)


class LookaheadContext(nn.Module):
    """Future context for the bottleneck features, as a delay plus a zero-initialised residual.

    Input ``z [B, H, T]`` (output frame ``t`` of a call sees input frames up to ``t``);
    output ``[B, H, T]`` whose frame ``t`` describes input frame ``t - L``: the delayed
    feature ``z[t - L]`` plus ``W2 act(conv(z[t - L .. t]))``, a learnt look at the
    ``L`` frames that follow it. ``W2`` starts at zero, so an untrained layer is a pure
    delay and a causal checkpoint warm-starts into the same masks, ``L`` frames late.
    State: the last ``L`` input frames ``[B, H, L]`` (none for ``L = 0``, where the layer
    is a pointwise residual of the same size: the control of a look-ahead curve).
    """

    def __init__(self, channels: int, frames: int, hidden: int) -> None:
        super().__init__()
        if frames < 0:
            raise ValueError(f"model.lookahead_frames {frames} is invalid: use 0 or more frames")
        self.channels = channels
        self.frames = frames
        self.conv = nn.Conv1d(channels, hidden, frames + 1)
        self.out = nn.Conv1d(hidden, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.act = nn.LeakyReLU(0.1)

    @property
    def state_shape(self) -> list[int | None]:
        """State shape with ``None`` for the batch dimension (``[]`` when ``L = 0``)."""
        return [None, self.channels, self.frames] if self.frames else []

    def forward(self, z: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.frames == 0:
            return z + self.out(self.act(self.conv(z))), None
        full = torch.cat([state, z], dim=-1)                       # [B, H, L + T]
        frames = z.shape[-1]
        delayed = full[..., :frames]
        return delayed + self.out(self.act(self.conv(full))), full[..., -self.frames:]


class FrameDelay(nn.Module):
    """Delay ``x [B, C, F, T]`` by ``frames`` frames; state: the last ``frames`` frames."""

    def __init__(self, channels: int, bins: int, frames: int) -> None:
        super().__init__()
        self.channels, self.bins, self.frames = channels, bins, frames

    @property
    def state_shape(self) -> list[int | None]:
        """State shape with ``None`` for the batch dimension."""
        return [None, self.channels, self.bins, self.frames]

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        full = torch.cat([state, x], dim=-1)
        return full[..., : x.shape[-1]], full[..., -self.frames:]


class PanStatistics(nn.Module):
    """Where the target sits in the stereo image, learnt from the stream so far (no weights).

    Each bin's pan is ``atan2(|other|, |own|)`` mapped to ``bins`` equal steps of
    [0, pi/2] (0: only in this channel). Two running histograms of pan, weighted by
    the bins' magnitude ``sqrt(|own|^2 + |other|^2)`` times the separator's coarse
    mask (target) or its complement (rest), decay with ``decay`` per frame; each is
    floored at 1e-3 of its mean, smoothed over neighbouring pan steps and
    normalised. The output is each bin's log-likelihood ratio ``log p_target(pan) -
    log p_rest(pan)`` from the histograms up to and including its frame (causal),
    clamped to +-`LLR_LIMIT`: the re-weighting of ``scripts/mask_diagnosis.py`` as
    a feature the separator learns to use. A mono input (both planes equal) puts
    every bin at the centre, where both histograms agree: a ratio of 0. Everything
    here is computed without gradients (the mask is read, not trained through).

    Inputs ``own, other [B, 1, F, T]`` (linear magnitudes), ``mask [B, 1, F, T]`` in
    [0, 1], state ``[B, 2, bins]`` (target, rest histograms, unnormalised); output
    ``(llr [B, 1, F, T], new state)``.
    """

    LLR_LIMIT = 8.0
    CHUNK = 256  # frames per running-sum matrix (memory T^2 per chunk)

    def __init__(self, bins: int = 32, decay: float = 0.998) -> None:
        super().__init__()
        if bins < 3 or not 0.0 < decay < 1.0:
            raise ValueError(f"PanStatistics bins {bins} / decay {decay}: need bins >= 3 and 0 < decay < 1")
        self.bins, self.decay = int(bins), float(decay)

    @property
    def state_shape(self) -> list[int | None]:
        return [None, 2, self.bins]

    def _log_histograms(self, counts: torch.Tensor) -> torch.Tensor:
        """``counts [..., bins]`` -> log of the floored, smoothed, normalised histograms."""
        floored = counts + 1e-3 * counts.sum(-1, keepdim=True) / self.bins + 1e-20
        edged = torch.cat([floored[..., :1], floored, floored[..., -1:]], dim=-1)
        smooth = 0.25 * edged[..., :-2] + 0.5 * edged[..., 1:-1] + 0.25 * edged[..., 2:]
        return torch.log(smooth) - torch.log(smooth.sum(-1, keepdim=True))

    def _running(self, per_frame: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Running sums ``H_t = decay * H_{t-1} + h_t`` of ``per_frame [B, 2, T, bins]`` from
        ``state [B, 2, bins]`` (``H_{-1}``), all frames at once: a lower-triangular matrix of
        decay powers (T x T)."""
        t = torch.arange(per_frame.shape[2], device=per_frame.device, dtype=per_frame.dtype)
        lag = t[:, None] - t[None, :]
        kernel = torch.where(lag >= 0, self.decay ** lag.clamp(min=0), torch.zeros_like(lag))
        running = torch.einsum("ts,bcsp->bctp", kernel, per_frame)
        return running + (self.decay ** (t + 1))[None, None, :, None] * state[:, :, None, :]

    def forward(self, own: torch.Tensor, other: torch.Tensor, mask: torch.Tensor,
                state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            own, other, mask = own[:, 0], other[:, 0], mask[:, 0]          # [B, F, T]
            batch, _, frames = own.shape
            pan = torch.atan2(other, own) * (2.0 / torch.pi)                # [0, 1]
            # (ONNX writes atan2 as a division: 0/0 is NaN there, 0 in torch; both become step 0)
            scaled = torch.floor(pan * self.bins)
            scaled = torch.where(torch.isnan(scaled), torch.zeros_like(scaled), scaled)
            step = torch.clamp(scaled, min=0, max=self.bins - 1).long().transpose(1, 2)  # [B, T, F]
            weight = torch.sqrt(own * own + other * other)
            votes = torch.stack([weight * mask, weight * (1.0 - mask)], dim=1).transpose(2, 3)  # [B, 2, T, F]
            per_frame = own.new_zeros(batch, 2, frames, self.bins)
            per_frame.scatter_add_(3, step.unsqueeze(1).expand(-1, 2, -1, -1), votes)
            if torch.jit.is_tracing() or frames <= self.CHUNK:  # (an exported graph: one T x T matrix per call)
                running = self._running(per_frame, state)
            else:
                parts = [per_frame[:, :, start:start + self.CHUNK] for start in range(0, frames, self.CHUNK)]
                runs = []
                for part in parts:
                    runs.append(self._running(part, state))
                    state = runs[-1][:, :, -1]
                running = torch.cat(runs, dim=2)                            # [B, 2, T, bins]
            logs = self._log_histograms(running)                            # [B, 2, T, bins]
            ratio = logs[:, 0] - logs[:, 1]                                 # [B, T, bins]
            llr = torch.gather(ratio, 2, step).transpose(1, 2).clamp(-self.LLR_LIMIT, self.LLR_LIMIT)
            return llr.unsqueeze(1), running[:, :, -1]
