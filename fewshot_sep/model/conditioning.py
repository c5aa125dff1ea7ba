"""The conditioning vector in torch, identical to the numpy one in
``fewshot_sep.realtime.conditioning.build_conditioning`` (docs/internals.md):
``concat(mean_positive [E], mean_negative [E] or zeros, [1.0 if negatives else 0.0])``.
"""

from __future__ import annotations

import torch


def build_conditioning(positive_mean: torch.Tensor, negative_mean: torch.Tensor | None = None) -> torch.Tensor:
    """``positive_mean [..., E]``, ``negative_mean [..., E] | None`` -> ``[..., 2E + 1]``."""
    if negative_mean is None:
        negative = torch.zeros_like(positive_mean)
        flag = torch.zeros_like(positive_mean[..., :1])
    else:
        negative = negative_mean
        flag = torch.ones_like(positive_mean[..., :1])
    return torch.cat([positive_mean, negative, flag], dim=-1)


def conditioning_from_support(positive: torch.Tensor, negative: torch.Tensor | None = None,
                              has_negative: torch.Tensor | None = None) -> torch.Tensor:
    """Batched episodes: per-clip embeddings -> conditioning vectors.

    Args:
        positive: ``[B, k, E]`` embeddings of the k support clips of each episode.
        negative: ``[B, k_neg, E]`` embeddings of negative clips, or None.
        has_negative: ``[B]`` float/bool, which episodes use their negatives
            (default: all when ``negative`` is given). Episodes without keep
            zeros and flag 0, exactly like ``build_conditioning(pos, None)``.

    Returns:
        ``[B, 2E + 1]`` float32.
    """
    pos_mean = positive.mean(dim=1)
    if negative is None or negative.shape[1] == 0:
        return build_conditioning(pos_mean, None)
    neg_mean = negative.mean(dim=1)
    if has_negative is None:
        flag = torch.ones_like(pos_mean[:, :1])
    else:
        flag = has_negative.to(pos_mean.dtype).reshape(-1, 1)
    return torch.cat([pos_mean, neg_mean * flag, flag], dim=-1)
