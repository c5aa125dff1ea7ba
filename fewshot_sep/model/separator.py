"""The streaming U-Net separator: magnitude frames + conditioning -> soft mask.

Shapes: ``B`` batch (channels of a stereo signal are batch items), ``T`` frames,
``F = 513`` STFT bins of the project's framing (docs/internals.md).

Layout (defaults of ``configs/release.yaml``)::

    |X| [B,1,513,T] -> drop Nyquist -> log1p(gain |X|), per-bin affine   [B,1,512,T]
    encoder: band split (512 bins -> 32 bands), then cached causal convs (freq kernel 3,
             stride 2; time kernel 2): 32 -> 16 -> 8 -> 4 bands, channels 32..64;
             optional per-band GRU (BandGRU, residual) on one level
    bottleneck: flatten (C x 16 bins) per frame -> linear -> FiLM -> GRU -> FiLM -> linear
    decoder: transposed conv (freq x2, per frame) + additive skip + FiLM (+ conv at the
             deepest levels), x5
    head: band merge (each band's features -> its bins' logits) + per-bin affine of the
          input log-magnitude (+ optional full-resolution FineHead) -> sigmoid mask,
          Nyquist copies bin 511

With ``stereo_input`` the separator also reads the other channel of a stereo mix: the
per-bin level difference between the two (compressed) channels enters through a second
band split (added to the first) and the fine head, so that bins can be told apart by
where they sit in the stereo image (a mono input has no difference). With
``pan_memory_seconds > 0`` it also keeps running pan histograms of what its coarse mask
calls target and rest (:class:`~fewshot_sep.model.layers.PanStatistics`, a memory of that
many seconds), and each bin's log-likelihood ratio of its pan under the two enters the
logits (a per-bin weight) and the fine head.

Time context comes from the causal convs (1 cached frame each) and the GRU, so
with ``lookahead_frames = 0`` the separator streams frame by frame with its
states (``initial_states``) giving the same result as one full pass.

With ``lookahead_frames = L > 0`` (the studio tier) the bottleneck gets a look at
the ``L`` frames that follow each frame (:class:`~fewshot_sep.model.layers.LookaheadContext`)
and the decoder's skips and the head's input are delayed by ``L`` frames to match:
output frame ``t`` is the mask of input frame ``t - L``. The stream stays causal
in its own time (states are the delay lines), so streaming still equals one pass;
:meth:`Separator.aligned_mask` pads ``L`` silent frames and crops, giving masks
aligned with the input frames (what training and offline evaluation use).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from fewshot_sep.contract.signal import HOP, SAMPLE_RATE
from fewshot_sep.model.layers import (BandGRU, BandMerge, BandSplit, CachedCausalConv2d, FiLM,
                                      FineHead, FrameDelay, LookaheadContext, PanStatistics)

MODEL_BINS = 512  # the Nyquist bin is dropped on input and copied from bin 511 on output


class Separator(nn.Module):
    """Stateful, causal, FiLM-conditioned U-Net mask estimator.

    ``forward(magnitude [B,1,513,T], conditioning [B,D], *states) -> (mask [B,1,513,T], *new_states)``;
    a ``stereo_input`` separator also takes ``magnitude [B,2,513,T]`` (this channel, the other one).
    """

    def __init__(self, conditioning_dim: int, channels: list[int] | None = None, time_kernel: int = 2,
                 freq_kernel: int = 3, gru_hidden: int = 256, context_dim: int = 256,
                 film_decoder: bool = True, decoder_conv_levels: int = 2, up_kernel: int = 2,
                 temporal: str = "gru",
                 band_width: int = 8, fine_head: int = 0,
                 band_gru: int = 0, band_gru_level: int = 1,
                 input_gain: float = 1.0,
                 lookahead_frames: int = 0, lookahead_hidden: int = 0, stereo_input: bool = False,
                 pan_memory_seconds: float = 0.0) -> None:
        super().__init__()
        if stereo_input and lookahead_frames:
            raise ValueError(f"model.stereo_input with model.lookahead_frames {lookahead_frames} is not supported: "
                             "use one of them (set lookahead_frames to 0 or stereo_input to false)")
        if pan_memory_seconds and not stereo_input:
            raise ValueError(f"model.pan_memory_seconds {pan_memory_seconds} needs model.stereo_input: true "
                             "(pan statistics read the other channel); set it to 0 or turn stereo_input on")
        if not 0.0 <= pan_memory_seconds <= 600.0:
            raise ValueError(f"model.pan_memory_seconds {pan_memory_seconds} is invalid: use 0 (off) or "
                             "a memory of up to 600 seconds, such as 3")
        self.stereo_input = bool(stereo_input)
        if lookahead_frames < 0 or lookahead_hidden < 0:
            raise ValueError(f"model.lookahead_frames {lookahead_frames} / lookahead_hidden {lookahead_hidden} "
                             "are invalid: use 0 or more (frames of look-ahead, hidden channels)")
        self.lookahead_frames = int(lookahead_frames)
        channels = list(channels or [32, 48, 64, 64])
        self.conditioning_dim = conditioning_dim
        self.channels = channels
        self.gru_hidden = gru_hidden
        self.film_decoder = film_decoder
        act = nn.LeakyReLU(0.1)
        self.act = act

        # Input compression: log1p(gain * |X|) then a learnt per-bin affine (like open-unmix's
        # input scaling). The project's STFT magnitudes are mostly far below 1 (median about
        # 2e-3 on training mixtures), where log1p is nearly linear; a gain of ~1000 makes the
        # compression logarithmic down to about -60 dB. Gain 1 is what the first models used.
        if not input_gain > 0:
            raise ValueError(f"model.input_gain {input_gain} is invalid: use a positive number (e.g. 1000)")
        self.input_gain = float(input_gain)
        self.input_scale = nn.Parameter(torch.ones(1, 1, MODEL_BINS, 1))
        self.input_bias = nn.Parameter(torch.zeros(1, 1, MODEL_BINS, 1))

        # Conditioning -> shared context for all FiLM layers (computed once per call, not per frame).
        self.context = nn.Sequential(nn.Linear(conditioning_dim, context_dim), nn.LeakyReLU(0.1),
                                     nn.Linear(context_dim, context_dim), nn.LeakyReLU(0.1))

        # Level 0 is the band split (e.g. 64 half-overlapping bands of 16 bins), so no layer
        # runs at full frequency resolution; the other levels halve the bands with strided convs.
        self.band_split = BandSplit(MODEL_BINS, band_width, channels[0])
        # Optional stereo input: the level difference between this channel and the other one
        # (per bin, in the compressed domain) through a band split of its own, added to the
        # first's features; it starts at zero, so a warm-started model is unchanged at step 0.
        self.stereo_split = BandSplit(MODEL_BINS, band_width, channels[0]) if stereo_input else None
        if self.stereo_split is not None:
            nn.init.zeros_(self.stereo_split.proj.weight)
            nn.init.zeros_(self.stereo_split.proj.bias)
        self.split_norm = nn.BatchNorm2d(channels[0])
        self.enc_convs = nn.ModuleList()
        self.enc_norms = nn.ModuleList()
        bins = MODEL_BINS // band_width
        self.enc_bins: list[int] = [bins]
        for in_ch, out_ch in zip(channels[:-1], channels[1:]):
            self.enc_convs.append(CachedCausalConv2d(in_ch, out_ch, freq_kernel, time_kernel, freq_stride=2,
                                                     freq_bins_in=bins))
            self.enc_norms.append(nn.BatchNorm2d(out_ch))
            bins //= 2
            self.enc_bins.append(bins)
        self.bottleneck_bins = bins
        flat = channels[-1] * bins
        # Optional per-band GRU (``band_gru`` hidden units) on encoder level ``band_gru_level``.
        if band_gru > 0 and not 0 <= band_gru_level < len(channels):
            raise ValueError(f"model.band_gru_level {band_gru_level} is invalid: use 0..{len(channels) - 1}")
        self.band_gru_level = band_gru_level
        self.band_gru = (BandGRU(channels[band_gru_level], self.enc_bins[band_gru_level], band_gru, context_dim)
                         if band_gru > 0 else None)

        self.bottleneck_in = nn.Linear(flat, gru_hidden)
        self.film_pre_gru = FiLM(context_dim, gru_hidden)
        # Temporal core across frames: a GRU (state [B, H]). The causal dilated conv stack
        # ("tcn") was an experiment no shipped model uses (git commit bc17340, the lab notebook).
        if temporal != "gru":
            raise ValueError(f"model.temporal {temporal!r} is invalid: use 'gru' (the only temporal core)")
        self.temporal = temporal
        self.gru = nn.GRU(gru_hidden, gru_hidden, batch_first=True)
        self.film_post_gru = FiLM(context_dim, gru_hidden)
        self.bottleneck_out = nn.Linear(gru_hidden, flat)

        # Decoder: level i upsamples the bands x2 from channels[-1 - i] to channels[-2 - i].
        self.dec_up = nn.ModuleList()
        self.dec_norms = nn.ModuleList()
        self.dec_films = nn.ModuleList()
        self.dec_convs = nn.ModuleList()
        self.dec_conv_norms = nn.ModuleList()
        in_channels = list(reversed(channels))[:-1]
        out_channels = list(reversed(channels))[1:]
        for level, (c_in, c_out) in enumerate(zip(in_channels, out_channels)):
            # up_kernel 2: each coarse band spawns 2 fine bands (no overlap, cheapest); 4: overlapping.
            self.dec_up.append(nn.ConvTranspose2d(c_in, c_out, (up_kernel, 1), stride=(2, 1),
                                                  padding=((up_kernel - 2) // 2, 0)))
            self.dec_norms.append(nn.BatchNorm2d(c_out))
            self.dec_films.append(FiLM(context_dim, c_out) if film_decoder else nn.Identity())
            # An extra per-frame conv only at the deepest (cheap, low-resolution) levels.
            if level < decoder_conv_levels:
                self.dec_convs.append(nn.Conv2d(c_out, c_out, (freq_kernel, 1), padding=((freq_kernel - 1) // 2, 0)))
                self.dec_conv_norms.append(nn.BatchNorm2d(c_out))
            else:
                self.dec_convs.append(nn.Identity())
                self.dec_conv_norms.append(nn.Identity())
        # Band features -> per-bin mask logits, plus a per-bin affine of the input log-magnitude.
        self.band_merge = BandMerge(channels[0], band_width)
        self.head_input_weight = nn.Parameter(torch.zeros(1, 1, MODEL_BINS, 1))
        self.head_bias = nn.Parameter(torch.zeros(1, 1, MODEL_BINS, 1))
        # Optional full-resolution refinement of the logits (``fine_head`` hidden channels).
        # Optional pan statistics (stereo): a per-bin log-likelihood ratio of target against rest
        # from running pan histograms, into the logits through a per-bin weight starting at zero.
        self.pan_stats = (PanStatistics(decay=math.exp(-HOP / (pan_memory_seconds * SAMPLE_RATE)))
                          if pan_memory_seconds else None)
        self.pan_weight = nn.Parameter(torch.zeros(1, 1, MODEL_BINS, 1)) if self.pan_stats is not None else None
        extra_inputs = (2 if stereo_input else 0) + (1 if self.pan_stats is not None else 0)
        self.fine_head = (FineHead(channels[0], band_width, fine_head, extra_inputs=extra_inputs)
                          if fine_head > 0 else None)
        # Optional look-ahead (studio tier): future context in the bottleneck, delay lines for the
        # skips and the head's input (``L + 1`` frames: the fine head also reads the frame before).
        self.lookahead = (LookaheadContext(gru_hidden, lookahead_frames, lookahead_hidden or gru_hidden)
                          if lookahead_frames > 0 or lookahead_hidden > 0 else None)
        if lookahead_frames > 0:
            self.skip_delays = nn.ModuleList(FrameDelay(c, b, lookahead_frames)
                                             for c, b in zip(channels[:-1], self.enc_bins[:-1]))
        # How many state tensors a call takes and returns; counted once, not on every streamed frame.
        self.n_states = len(self.state_shapes)

    # -- streaming state -------------------------------------------------------------------
    @property
    def state_shapes(self) -> list[list[int | None]]:
        """Shapes of the state tensors, ``None`` standing for the batch dimension."""
        shapes = [self.band_split.state_shape] + [conv.state_shape for conv in self.enc_convs]
        shapes.append([None, self.gru_hidden])
        if self.band_gru is not None:
            shapes.append(self.band_gru.state_shape)
        if self.lookahead_frames > 0:
            shapes.append(self.lookahead.state_shape)
            shapes.append([None, 1, MODEL_BINS, self.lookahead_frames + 1])  # the head's input, forward()
            shapes += [delay.state_shape for delay in self.skip_delays]
        if self.stereo_split is not None:
            shapes.append(self.stereo_split.state_shape)  # the previous frame's level difference
        if self.pan_stats is not None:
            shapes.append(self.pan_stats.state_shape)     # the running pan histograms
        return shapes

    def initial_states(self, batch_size: int, device: torch.device | None = None) -> list[torch.Tensor]:
        """Zero states for a fresh stream of ``batch_size`` items."""
        if device is None:
            device = self.input_scale.device
        return [torch.zeros([batch_size] + [int(d) for d in shape[1:]], device=device)
                for shape in self.state_shapes]

    # -- forward ---------------------------------------------------------------------------
    def forward(self, magnitude: torch.Tensor, conditioning: torch.Tensor,
                *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Estimate the target mask.

        Args:
            magnitude: ``[B, 1, 513, T]`` linear STFT magnitude of the mixture (one channel);
                a ``stereo_input`` model also takes ``[B, 2, 513, T]``: this channel, then the
                other channel of the same stereo mix (one plane counts as mono: no difference).
            conditioning: ``[B, D]`` conditioning vector (docs/internals.md).
            states: the tensors of ``initial_states`` or of the previous call's outputs.

        Returns:
            ``(mask [B, 1, 513, T] in [0, 1], *new_states)``.
        """
        n_enc = len(self.enc_convs) + 1  # band split + strided levels
        n_states = self.n_states
        if len(states) == 0:
            states = tuple(self.initial_states(magnitude.shape[0], magnitude.device))
        elif len(states) != n_states:
            raise ValueError(f"the separator takes {n_states} state tensors (state_shapes), got {len(states)}: "
                             "pass initial_states(batch) or the states the previous call returned")
        # The optional states sit at the end: band GRU, then the look-ahead's delay lines.
        band_gru_index = n_enc + 1
        lookahead_index = band_gru_index + (self.band_gru is not None)
        planes = magnitude.shape[1]
        if planes != 1 and not (planes == 2 and self.stereo_split is not None):
            raise ValueError(f"the separator takes magnitude [B, 1, 513, T]"
                             f"{' or [B, 2, 513, T] (this channel, the other one)' if self.stereo_split is not None else ''}"
                             f", got {planes} planes: {list(magnitude.shape)}")
        context = self.context(conditioning)
        x_all = torch.log1p(magnitude[:, :, :MODEL_BINS, :] * self.input_gain) * self.input_scale + self.input_bias
        x_in = x_all if self.stereo_split is None else x_all[:, :1]  # (mono graphs stay as they were)
        stereo_states: list[torch.Tensor] = []
        level_difference = x_prev_difference = None
        if self.stereo_split is not None:
            stereo_index = n_states - 1 - (self.pan_stats is not None)
            level_difference = x_in - x_all[:, -1:]           # [B, 1, 512, T], 0 for a mono input
            stereo_features, s = self.stereo_split(level_difference, states[stereo_index])
            stereo_states.append(s)
            x_prev_difference = torch.cat([states[stereo_index], level_difference[..., :-1]], dim=-1)

        new_states: list[torch.Tensor] = []
        band_gru_state: torch.Tensor | None = None
        skips: list[torch.Tensor] = []
        h, s = self.band_split(x_in, states[0])
        if self.stereo_split is not None:
            h = h + stereo_features
        h = self.act(self.split_norm(h))
        new_states.append(s)
        for i in range(n_enc):
            if i > 0:
                h, s = self.enc_convs[i - 1](h, states[i])
                h = self.act(self.enc_norms[i - 1](h))
                new_states.append(s)
            if self.band_gru is not None and i == self.band_gru_level:
                h, band_gru_state = self.band_gru(h, context, states[band_gru_index])
            skips.append(h)

        batch, chans, bins, frames = h.shape
        z = h.permute(0, 3, 1, 2).reshape(batch, frames, chans * bins)
        z = self.bottleneck_in(z)                       # [B, T, H]
        z = self.act(self.film_pre_gru(z.transpose(1, 2), context)).transpose(1, 2)
        g, h_n = self.gru(z, states[n_enc].unsqueeze(0))
        new_states.append(h_n.squeeze(0))
        z = self.film_post_gru((g + z).transpose(1, 2), context)
        lookahead_states: list[torch.Tensor] = []
        if self.lookahead is not None:                  # z [B, H, T]: frame t now describes t - L
            z, s = self.lookahead(z, states[lookahead_index] if self.lookahead_frames else None)
            if self.lookahead_frames:
                lookahead_states.append(s)
                # the head's input frame and the one before it, both L frames late
                x_full = torch.cat([states[lookahead_index + 1], x_in], dim=-1)   # [B, 1, 512, L + 1 + T]
                lookahead_states.append(x_full[..., -(self.lookahead_frames + 1):])
                x_before, x_in = x_full[..., :frames], x_full[..., 1:frames + 1]
                for level, delay in enumerate(self.skip_delays):
                    skips[level], s = delay(skips[level], states[lookahead_index + 2 + level])
                    lookahead_states.append(s)
        z = z.transpose(1, 2)
        z = self.act(self.bottleneck_out(z))            # [B, T, C*bins]
        h = z.reshape(batch, frames, chans, bins).permute(0, 2, 3, 1)

        for level in range(n_enc - 1):
            h = self.dec_up[level](h) + skips[n_enc - 2 - level]
            h = self.dec_norms[level](h)
            if self.film_decoder:
                h = self.dec_films[level](h, context)
            h = self.act(h)
            h = self.act(self.dec_conv_norms[level](self.dec_convs[level](h)))
        logits = self.band_merge(h) + x_in * self.head_input_weight + self.head_bias
        pan_llr = None
        if self.pan_stats is not None:
            pan_llr, s = self.pan_stats(magnitude[:, :1, :MODEL_BINS], magnitude[:, -1:, :MODEL_BINS],
                                        torch.sigmoid(logits), states[-1])
            stereo_states.append(s)
            logits = logits + self.pan_weight * pan_llr
        if self.fine_head is not None:
            # The previous input frame of each frame: the band split's state, then this call's frames.
            x_prev = (x_before if self.lookahead_frames
                      else torch.cat([states[0], x_in[..., :-1]], dim=-1))
            extra = (torch.cat([level_difference, x_prev_difference]
                               + ([pan_llr] if pan_llr is not None else []), dim=1)
                     if level_difference is not None else None)
            logits = logits + self.fine_head(h, x_in, x_prev, extra)
        mask = torch.sigmoid(logits)
        mask = torch.cat([mask, mask[:, :, -1:, :]], dim=2)
        if band_gru_state is not None:
            new_states.append(band_gru_state)
        return (mask, *new_states, *lookahead_states, *stereo_states)

    def aligned_mask(self, magnitude: torch.Tensor, conditioning: torch.Tensor) -> torch.Tensor:
        """One pass from zero states: ``mask [B, 1, 513, T]`` aligned with the input frames.

        For a look-ahead model the input gets ``L`` silent frames at its end (what a stream
        that ends in silence sees) and the first ``L`` outputs, which describe frames before
        the stream, are dropped. For a causal model this is ``forward(...)[0]``.
        """
        lookahead = self.lookahead_frames
        if lookahead:
            magnitude = torch.nn.functional.pad(magnitude, (0, lookahead))
        mask = self(magnitude, conditioning)[0]
        return mask[..., lookahead:] if lookahead else mask


def separator_from_config(model_cfg: dict[str, Any], conditioning_dim: int) -> Separator:
    """Build a :class:`Separator` from the ``model`` section of a config."""
    return Separator(
        conditioning_dim=conditioning_dim,
        channels=model_cfg.get("channels", [32, 48, 64, 64]),
        time_kernel=int(model_cfg.get("time_kernel", 2)),
        freq_kernel=int(model_cfg.get("freq_kernel", 3)),
        gru_hidden=int(model_cfg.get("gru_hidden", 256)),
        context_dim=int(model_cfg.get("context_dim", 256)),
        film_decoder=bool(model_cfg.get("film_decoder", True)),
        decoder_conv_levels=int(model_cfg.get("decoder_conv_levels", 2)),
        temporal=str(model_cfg.get("temporal", "gru")),
        band_width=int(model_cfg.get("band_width", 8)),
        up_kernel=int(model_cfg.get("up_kernel", 2)),
        fine_head=int(model_cfg.get("fine_head") or 0),
        band_gru=int(model_cfg.get("band_gru") or 0),
        band_gru_level=int(model_cfg.get("band_gru_level", 1)),
        input_gain=float(model_cfg.get("input_gain", 1.0)),
        stereo_input=bool(model_cfg.get("stereo_input", False)),
        pan_memory_seconds=float(model_cfg.get("pan_memory_seconds") or 0.0),
        lookahead_frames=int(model_cfg.get("lookahead_frames") or 0),
        lookahead_hidden=int(model_cfg.get("lookahead_hidden") or 0),
    )
