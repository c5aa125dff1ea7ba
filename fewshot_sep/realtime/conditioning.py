"""The separator's conditioning vector (docs/internals.md).

``concat(mean_positive_embedding [E], mean_negative_embedding [E] or zeros,
[1.0 if negatives else 0.0])`` -> ``[2E + 1]`` float32. The means are plain
arithmetic means of per-clip embeddings, so a preset can keep running sums and
counts and call this with ``sum / count``.
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.utils.errors import UserError


def build_conditioning(positive_mean: np.ndarray, negative_mean: np.ndarray | None = None) -> np.ndarray:
    """Conditioning vector ``[2E + 1]`` float32 from mean embeddings ``[E]``.

    Args:
        positive_mean: ``[E]`` mean embedding of the target instrument's clips.
        negative_mean: ``[E]`` mean embedding of the negative clips, or None (no negatives).

    Raises:
        UserError: wrong shapes, mismatched sizes or non-finite values.
    """
    positive = np.asarray(positive_mean, dtype=np.float32)
    if positive.ndim != 1 or positive.size == 0:
        raise UserError(f"positive mean embedding has shape {positive.shape}: expected a 1-D vector [E]")
    if not np.all(np.isfinite(positive)):
        raise UserError("positive mean embedding contains NaN or Inf: rebuild the preset from valid clips")
    out = np.zeros(2 * positive.size + 1, dtype=np.float32)
    out[: positive.size] = positive
    if negative_mean is not None:
        negative = np.asarray(negative_mean, dtype=np.float32)
        if negative.shape != positive.shape:
            raise UserError(
                f"negative mean embedding has shape {negative.shape}, the positive one {positive.shape}: they must match"
            )
        if not np.all(np.isfinite(negative)):
            raise UserError("negative mean embedding contains NaN or Inf: rebuild the preset from valid clips")
        out[positive.size : 2 * positive.size] = negative
        out[-1] = 1.0
    return out


def split_conditioning(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverse of :func:`build_conditioning`: ``[2E+1] -> (positive [E], negative [E] or None)``."""
    vector = np.asarray(vector, dtype=np.float32)
    if vector.ndim != 1 or vector.size % 2 != 1:
        raise UserError(f"conditioning vector has shape {vector.shape}: expected [2E + 1]")
    e = vector.size // 2
    return vector[:e].copy(), (vector[e : 2 * e].copy() if vector[-1] > 0.5 else None)
