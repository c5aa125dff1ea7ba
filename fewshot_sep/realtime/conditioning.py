"""The separator's conditioning vector (docs/internals.md).

``concat(mean_positive_embedding [E], mean_negative_embedding [E] or zeros,
[1.0 if negatives else 0.0])`` -> ``[2E + 1]`` float32. The means are plain
arithmetic means of per-clip embeddings, so a preset can keep running sums and
counts and call this with ``sum / count``.
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.contract.conditioning import conditioning_dim, conditioning_slices
from fewshot_sep.utils.errors import UserError

#: The largest L2 norm an embedding (or a mean of embeddings) can have. Every encoder this
#: project trains and exports ends in L2 normalisation (fewshot_sep/model/encoder.py:
#: ``emb / (||emb|| + 1e-6)``, for the few-shot and the one-hot encoder alike; the test
#: doubles do the same), so one clip's embedding has norm < 1 and a mean of such
#: embeddings, by the triangle inequality, <= 1. tests/hostile/test_hostile_audio_values.py checks
#: it on the packaged encoder's outputs. A vector beyond it was not made by the encoder,
#: and the separator's FiLM layers never saw one: huge values overflow to Inf/NaN inside
#: the graph (a 1e30 preset made silence and NaN).
EMBEDDING_NORM_BOUND = 1.0
#: float32 rounding of a sum of unit vectors and of its mean (relative), with a wide margin.
EMBEDDING_NORM_SLACK = 1e-3


def check_embedding_norm(vector: np.ndarray, what: str, count: int = 1) -> None:
    """Raise UserError if `vector` (a mean embedding, or a sum of `count` of them) is longer
    than the encoder can produce (see EMBEDDING_NORM_BOUND)."""
    norm = float(np.linalg.norm(np.asarray(vector, dtype=np.float64)))
    limit = count * EMBEDDING_NORM_BOUND * (1 + EMBEDDING_NORM_SLACK)
    if not norm <= limit:
        raise UserError(
            f"{what} has length (L2 norm) {norm:.4g}, more than the encoder can produce ({limit:.4g}"
            f"{f' for {count} clips' if count != 1 else ''}: its embeddings are L2-normalised): the preset was "
            "edited or made by something else; rebuild it with `fewshot-sep preset create`"
        )


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
    pos, neg, flag = conditioning_slices(positive.size)
    out = np.zeros(conditioning_dim(positive.size), dtype=np.float32)
    out[pos] = positive
    if negative_mean is not None:
        negative = np.asarray(negative_mean, dtype=np.float32)
        if negative.shape != positive.shape:
            raise UserError(
                f"negative mean embedding has shape {negative.shape}, the positive one {positive.shape}: they must match"
            )
        if not np.all(np.isfinite(negative)):
            raise UserError("negative mean embedding contains NaN or Inf: rebuild the preset from valid clips")
        out[neg] = negative
        out[flag] = 1.0
    return out


def check_conditioning_range(vector: np.ndarray) -> None:
    """Raise UserError if a conditioning vector ``[2E + 1]`` has halves longer than embeddings can be,
    or a negatives flag other than 0 or 1."""
    vector = np.asarray(vector, dtype=np.float32)
    pos, neg, _ = conditioning_slices(vector.size // 2)
    check_embedding_norm(vector[pos], "conditioning vector (its positive half)")
    check_embedding_norm(vector[neg], "conditioning vector (its negative half)")
    if vector.size % 2 == 1 and vector[-1] not in (0.0, 1.0):
        raise UserError(f"conditioning vector's last value (the negatives flag) is {vector[-1]!r}: it must be 0 or 1")


def split_conditioning(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverse of :func:`build_conditioning`: ``[2E+1] -> (positive [E], negative [E] or None)``."""
    vector = np.asarray(vector, dtype=np.float32)
    if vector.ndim != 1 or vector.size % 2 != 1:
        raise UserError(f"conditioning vector has shape {vector.shape}: expected [2E + 1]")
    pos, neg, flag = conditioning_slices(vector.size // 2)
    return vector[pos].copy(), (vector[neg].copy() if vector[flag] > 0.5 else None)
