"""Few-shot separation model (torch): FiLM U-Net separator, clip encoder, one-hot baseline.

Public API (the export layer codes against it):

- :func:`build_model` ``(config) -> FewShotModel`` with ``.separator``
  (streaming mask estimator, see :mod:`fewshot_sep.model.separator`),
  ``.encoder`` (clip -> embedding), ``.embedding_dim``, ``.conditioning_dim``,
  ``.conditioning_mode`` ("fewshot" or "onehot") and ``.class_embedding`` for
  the one-hot baseline.
- :mod:`fewshot_sep.model.stft`: the project's STFT framing in torch.
- :mod:`fewshot_sep.model.conditioning`: the conditioning vector in torch.

``config`` is the whole run config (a dict with a ``model`` section) or the
``model`` section itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fewshot_sep.contract.conditioning import conditioning_dim
from fewshot_sep.model.conditioning import build_conditioning, conditioning_from_support
from fewshot_sep.model.encoder import ClassEmbedding, ClipEncoder, encoder_from_config
from fewshot_sep.model.separator import Separator, separator_from_config

__all__ = [
    "FewShotModel", "build_model", "build_conditioning", "conditioning_from_support",
    "Separator", "ClipEncoder", "ClassEmbedding",
]


class FewShotModel(nn.Module):
    """Container of the separator, the clip encoder and (baseline) the class embedding."""

    def __init__(self, separator: Separator, encoder: ClipEncoder, embedding_dim: int,
                 conditioning_mode: str = "fewshot", class_embedding: ClassEmbedding | None = None) -> None:
        super().__init__()
        self.separator = separator
        self.encoder = encoder
        self.embedding_dim = embedding_dim
        self.conditioning_dim = conditioning_dim(embedding_dim)
        self.conditioning_mode = conditioning_mode
        self.class_embedding = class_embedding

    def embed_clips(self, magnitude: torch.Tensor) -> torch.Tensor:
        """``[N, 1, 513, T]`` clip magnitudes -> ``[N, E]`` embeddings."""
        return self.encoder(magnitude)

    def conditioning_for_class(self, class_id: torch.Tensor) -> torch.Tensor:
        """One-hot baseline: ``[B]`` class ids -> ``[B, 2E + 1]`` (negative part zero, flag 0)."""
        if self.class_embedding is None:
            raise RuntimeError("this model was built with conditioning 'fewshot', not 'onehot'")
        return build_conditioning(self.class_embedding(class_id), None)


def build_model(config: dict[str, Any]) -> FewShotModel:
    """Build the model described by ``config`` (full run config or its ``model`` section)."""
    model_cfg = config.get("model", config)
    embedding_dim = int(model_cfg.get("embedding_dim", 128))
    mode = str(model_cfg.get("conditioning", "fewshot"))
    if mode not in ("fewshot", "onehot"):
        raise ValueError(f"model.conditioning {mode!r} is invalid: use 'fewshot' or 'onehot'")
    separator = separator_from_config(model_cfg, conditioning_dim(embedding_dim))
    encoder = encoder_from_config(model_cfg)
    class_embedding = None
    if mode == "onehot":
        classes = model_cfg.get("classes")
        num_classes = len(classes) if classes else int(model_cfg.get("num_classes", 256))
        class_embedding = ClassEmbedding(num_classes, embedding_dim)
    return FewShotModel(separator, encoder, embedding_dim, mode, class_embedding)
