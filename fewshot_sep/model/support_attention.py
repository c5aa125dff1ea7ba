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
"""

from __future__ import annotations

import torch
from torch import nn


class SupportAttention(nn.Module):
    """Multi-head cross-attention from bottleneck frames to example-clip tokens."""

    def __init__(self, query_dim: int, token_dim: int, attention_dim: int = 64, heads: int = 4,
                 pool_frames: int = 8) -> None:
        super().__init__()
        if attention_dim <= 0 or heads <= 0 or attention_dim % heads:
            raise ValueError(f"model.support_attention {attention_dim} with {heads} heads is invalid: "
                             "use a width divisible by the number of heads (e.g. 64 with 4)")
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

    def clip_tokens(self, frames: torch.Tensor, negative: bool = False) -> torch.Tensor:
        """``frames [N, C, T_clip]`` (clip encoder frame features) -> tokens ``[N, ceil(T_clip / P), A]``."""
        pooled = nn.functional.avg_pool1d(frames, self.pool_frames, self.pool_frames, ceil_mode=True)
        tokens = self.token_in(pooled.transpose(1, 2)) + self.token_kind[int(negative)]
        return self.token_norm(tokens)

    def forward(self, z: torch.Tensor, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``z [B, T, H]``, ``tokens [B, M, A]``, ``valid [B, M]`` bool (padding False) -> ``[B, T, H]``."""
        batch, frames, _ = z.shape
        heads, width = self.heads, self.attention_dim // self.heads
        q = self.query(self.query_norm(z)).reshape(batch, frames, heads, width).transpose(1, 2)
        k = self.key(tokens).reshape(batch, -1, heads, width).transpose(1, 2)       # [B, h, M, w]
        v = self.value(tokens).reshape(batch, -1, heads, width).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(2, 3)) * (width ** -0.5)                # [B, h, T, M]
        # a finite floor, not -inf: an episode with no valid token must not turn into NaN
        scores = scores.masked_fill(~valid[:, None, None, :], torch.finfo(scores.dtype).min)
        attended = torch.matmul(torch.softmax(scores, dim=-1), v)                    # [B, h, T, w]
        update = self.out(attended.transpose(1, 2).reshape(batch, frames, heads * width))
        return z + update * valid.any(dim=1).to(z.dtype)[:, None, None]


def episode_tokens(tokens: torch.Tensor, episode: torch.Tensor, n_episodes: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather per-clip tokens into per-episode sets.

    Args:
        tokens: ``[N, m, A]`` tokens of N clips (m per clip).
        episode: ``[N]`` int64, the episode of each clip.
        n_episodes: ``B``.

    Returns:
        ``(tokens [B, K * m, A], valid [B, K * m] bool)`` with ``K`` the most clips any
        episode has; the slots of episodes with fewer clips are zeros and not valid.
    """
    n_clips, per_clip, width = tokens.shape
    counts = torch.bincount(episode, minlength=n_episodes)
    most = int(counts.max()) if n_clips else 0
    order = torch.argsort(episode, stable=True)
    sorted_episode = episode[order]
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(n_clips, device=tokens.device) - starts[sorted_episode]
    padded = tokens.new_zeros(n_episodes, most, per_clip, width)
    valid = torch.zeros(n_episodes, most, per_clip, dtype=torch.bool, device=tokens.device)
    padded[sorted_episode, slot] = tokens[order]
    valid[sorted_episode, slot] = True
    return padded.reshape(n_episodes, most * per_clip, width), valid.reshape(n_episodes, most * per_clip)
