"""Layout of the separator's conditioning vector (docs/internals.md).

``[positive mean embedding (E), negative mean embedding (E) or zeros, negatives flag (1)]``:
``D = 2 E + 1`` values, the flag 1.0 when negative examples are folded in, else 0.0.
The numpy builder is ``fewshot_sep.realtime.conditioning``, the torch one
``fewshot_sep.model.conditioning``.
"""

from __future__ import annotations


def conditioning_dim(embedding_dim: int) -> int:
    """``D = 2 E + 1``: the conditioning size for embeddings of size ``E``."""
    if embedding_dim < 1:
        raise ValueError(f"embedding_dim {embedding_dim} must be >= 1")
    return 2 * int(embedding_dim) + 1


def embedding_dim_of(conditioning_size: int) -> int:
    """``E`` of a conditioning vector of size ``D = 2 E + 1`` (ValueError for an even or too small D)."""
    if conditioning_size < 3 or conditioning_size % 2 != 1:
        raise ValueError(f"conditioning size {conditioning_size} is not 2 E + 1 with E >= 1")
    return (int(conditioning_size) - 1) // 2


def conditioning_slices(embedding_dim: int) -> tuple[slice, slice, int]:
    """``(positive, negative, flag)``: where each part sits in a ``[2E + 1]`` vector."""
    e = int(embedding_dim)
    return slice(0, e), slice(e, 2 * e), 2 * e
