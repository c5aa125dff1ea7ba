"""Support attention: each mixture frame compares itself with the examples' frames.

The mean embedding (FiLM conditioning) summarises the examples in one vector, so the
separator must already know every timbre it is asked for. Support attention keeps the
examples' frame-level features as a set of tokens and lets every mixture frame of the
bottleneck attend to them: "what in this frame sounds like these examples" is a
comparison, which can generalise to timbres the training never covered
(issue 25, "let the model compare, not only remember").

Shapes: ``B`` episodes, ``T`` mixture frames, ``H`` the bottleneck width
(``gru_hidden``), ``N`` example clips, ``C`` the clip encoder's frame-feature channels,
``M`` tokens per episode (clips x pooled frames, padded), ``A`` the attention width.

- :meth:`SupportAttention.clip_tokens`: ``frames [N, C, T_clip]`` -> ``[N, ceil(T_clip / P), A]``,
  average-pooled over ``P = pool_frames`` frames, a learnt "example" or "negative
  example" vector added, layer-normalised.
- :meth:`SupportAttention.forward`: ``z [B, T, H]``, ``tokens [B, M, A]``, ``valid [B, M]`` ->
  ``z + attention [B, T, H]`` (an episode without a valid token gets ``z`` unchanged). The
  output projection starts at zero, so a model warm-started from one without attention
  computes exactly what that model did.

The attention looks at no other mixture frame, so streaming frame by frame equals one pass.

:class:`BandSupportAttention` is the same comparison one level up the spectrum: at an encoder
level of ``F`` bands and ``C`` channels, each band of each mixture frame attends to the
examples' features *of that band*, taken from the separator's own encoder
(:meth:`~fewshot_sep.model.separator.Separator.band_features`), so the mixture and the
examples are compared in the same feature space, band by band, like a learnt template match
(the example-informed NMF of issue 26, which helped unseen instruments). Its tokens
``[B, M, F, A_band]`` share the slots ``M`` (and ``valid``) of the frame tokens: the same clips
pooled over the same frames (:class:`Support`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class Support(NamedTuple):
    """An episode batch's example tokens, as the separator reads them.

    ``tokens [B, M, A]`` for :class:`SupportAttention` (``None`` without it), ``valid [B, M]``
    bool (padding False), ``band_tokens [B, M, F, A_band]`` for :class:`BandSupportAttention`
    (``None`` without it). A plain ``(tokens, valid)`` tuple is a ``Support`` without band tokens.
    """

    tokens: torch.Tensor | None
    valid: torch.Tensor
    band_tokens: torch.Tensor | None = None


class _TokenAttention(nn.Module):
    """What both support attentions share: token and query projections, multi-head attention
    over valid tokens, a zero-initialised output projection (an untrained layer changes nothing)."""

    def __init__(self, query_dim: int, token_dim: int, attention_dim: int, heads: int, pool_frames: int,
                 setting: str, example_width: str) -> None:
        super().__init__()
        if attention_dim <= 0 or heads <= 0 or attention_dim % heads:
            raise ValueError(f"model.{setting} {attention_dim} with {heads} heads is invalid: use a width "
                             f"divisible by the number of heads (e.g. {example_width})")
        if pool_frames < 1:
            raise ValueError(f"model.support_pool_frames {pool_frames} is invalid: use 1 or more frames")
        self.attention_dim = attention_dim
        self.heads = heads
        self.pool_frames = pool_frames
        self.token_in = nn.Linear(token_dim, attention_dim)
        self.token_kind = nn.Parameter(torch.zeros(2, attention_dim))  # row 0: example, row 1: negative
        self.token_norm = nn.LayerNorm(attention_dim)
        self.query_norm = nn.LayerNorm(query_dim)
        self.query = nn.Linear(query_dim, attention_dim)
        self.key = nn.Linear(attention_dim, attention_dim)
        self.value = nn.Linear(attention_dim, attention_dim)
        self.out = nn.Linear(attention_dim, query_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., L, A]`` -> ``[..., h, L, w]`` (``A = h * w``)."""
        split = x.reshape(*x.shape[:-1], self.heads, self.attention_dim // self.heads)
        return split.transpose(-2, -3)

    def _attend(self, queries: torch.Tensor, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``queries [B, ..., T, query_dim]``, ``tokens [B, ..., M, A]``, ``valid [B, M]`` ->
        the output projection's update ``[B, ..., T, query_dim]``, zero for an episode without
        a valid token."""
        q = self._heads(self.query(self.query_norm(queries)))                        # [B, ..., h, T, w]
        k, v = self._heads(self.key(tokens)), self._heads(self.value(tokens))        # [B, ..., h, M, w]
        scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)       # [B, ..., h, T, M]
        mask = valid.reshape(valid.shape[0], *([1] * (scores.dim() - 2)), valid.shape[1])
        # a finite floor, not -inf: an episode with no valid token must not turn into NaN
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        attended = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(-2, -3)  # [B, ..., T, h, w]
        update = self.out(attended.reshape(*attended.shape[:-2], self.attention_dim))
        present = valid.any(dim=1).to(update.dtype)
        return update * present.reshape(-1, *([1] * (update.dim() - 1)))


class SupportAttention(_TokenAttention):
    """Multi-head cross-attention from bottleneck frames to example-clip tokens."""

    def __init__(self, query_dim: int, token_dim: int, attention_dim: int = 64, heads: int = 4,
                 pool_frames: int = 8) -> None:
        super().__init__(query_dim, token_dim, attention_dim, heads, pool_frames, "support_attention", "64 with 4")

    def clip_tokens(self, frames: torch.Tensor, negative: bool = False) -> torch.Tensor:
        """``frames [N, C, T_clip]`` (clip encoder frame features) -> tokens ``[N, ceil(T_clip / P), A]``."""
        pooled = nn.functional.avg_pool1d(frames, self.pool_frames, self.pool_frames, ceil_mode=True)
        tokens = self.token_in(pooled.transpose(1, 2)) + self.token_kind[int(negative)]
        return self.token_norm(tokens)

    def forward(self, z: torch.Tensor, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``z [B, T, H]``, ``tokens [B, M, A]``, ``valid [B, M]`` bool (padding False) -> ``[B, T, H]``."""
        return z + self._attend(z, tokens, valid)


def episode_tokens(tokens: torch.Tensor, episode: torch.Tensor, n_episodes: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather per-clip tokens into per-episode sets.

    Args:
        tokens: ``[N, m, *rest]`` tokens of N clips (m per clip; ``rest`` is ``[A]`` for frame
            tokens, ``[F, A]`` for band tokens laid out clip-major).
        episode: ``[N]`` int64, the episode of each clip.
        n_episodes: ``B``.

    Returns:
        ``(tokens [B, K * m, *rest], valid [B, K * m] bool)`` with ``K`` the most clips any
        episode has; the slots of episodes with fewer clips are zeros and not valid.
    """
    n_clips, per_clip = tokens.shape[:2]
    rest = tokens.shape[2:]
    counts = torch.bincount(episode, minlength=n_episodes)
    most = int(counts.max()) if n_clips else 0
    order = torch.argsort(episode, stable=True)
    sorted_episode = episode[order]
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(n_clips, device=tokens.device) - starts[sorted_episode]
    padded = tokens.new_zeros(n_episodes, most, per_clip, *rest)
    valid = torch.zeros(n_episodes, most, per_clip, dtype=torch.bool, device=tokens.device)
    padded[sorted_episode, slot] = tokens[order]
    valid[sorted_episode, slot] = True
    return padded.reshape(n_episodes, most * per_clip, *rest), valid.reshape(n_episodes, most * per_clip)


class BandSupportAttention(_TokenAttention):
    """Per-band cross-attention from an encoder level's features to the examples' features
    of the same band (one set of weights for every band, a learnt band vector on the tokens).

    ``h [B, C, F, T]``, ``band_tokens [B, M, F, A]``, ``valid [B, M]`` -> ``h + update [B, C, F, T]``;
    the output projection starts at zero (an untrained layer leaves ``h`` exactly as it was)
    and an episode without a valid token is left unchanged. No other frame is read, so
    streaming equals one pass.
    """

    def __init__(self, channels: int, n_bands: int, attention_dim: int = 32, heads: int = 2,
                 pool_frames: int = 8) -> None:
        super().__init__(channels, channels, attention_dim, heads, pool_frames, "support_band_attention",
                         "32 with 2")
        self.n_bands = n_bands
        self.token_band = nn.Parameter(torch.zeros(n_bands, attention_dim))

    def clip_tokens(self, features: torch.Tensor, negative: bool = False) -> torch.Tensor:
        """``features [N, C, F, T_clip]`` (:meth:`Separator.band_features`) -> tokens
        ``[N, ceil(T_clip / P), F, A]`` (clip-major, as :func:`episode_tokens` gathers them)."""
        n_clips, chans, bands, frames = features.shape
        if bands != self.n_bands:
            raise ValueError(f"band tokens need features of {self.n_bands} bands, got {bands}")
        pooled = nn.functional.avg_pool1d(features.reshape(n_clips, chans * bands, frames), self.pool_frames,
                                          self.pool_frames, ceil_mode=True)
        pooled = pooled.reshape(n_clips, chans, bands, -1).permute(0, 3, 2, 1)       # [N, m, F, C]
        tokens = self.token_in(pooled) + self.token_band + self.token_kind[int(negative)]
        return self.token_norm(tokens)

    def forward(self, h: torch.Tensor, band_tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``h [B, C, F, T]``, ``band_tokens [B, M, F, A]``, ``valid [B, M]`` -> ``[B, C, F, T]``."""
        update = self._attend(h.permute(0, 2, 3, 1), band_tokens.transpose(1, 2), valid)  # [B, F, T, C]
        return h + update.permute(0, 3, 1, 2)
