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

    @property
    def reads_support(self) -> bool:
        """Whether the separator reads the examples' tokens (support attention of either kind)."""
        return self.conditioning_mode == "fewshot" and (self.separator.support_attention is not None
                                                        or self.separator.support_band_attention is not None)

    def clip_support_tokens(self, magnitude: torch.Tensor, negative: bool = False,
                            frame_features: torch.Tensor | None = None
                            ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Support attention's tokens of clips (all example clips or all negative clips).

        ``magnitude [N, 1, 513, T]`` -> ``(frame tokens [N, m, A] or None, band tokens
        [N, m, F, A_band] or None)``, ``None`` for a layer the model does not have; ``m`` the
        clip's frames pooled by ``support_pool_frames``. ``frame_features``: the clip encoder's
        :meth:`~fewshot_sep.model.encoder.ClipEncoder.frame_features` of the same clips when the
        caller has them. The band tokens' encoder features carry no gradient: the encoder learns
        from the mixtures, the token projections from both.
        """
        frame_attention = self.separator.support_attention
        band_attention = self.separator.support_band_attention
        frame_tokens = band_tokens = None
        if frame_attention is not None:
            if frame_features is None:
                frame_features = self.encoder.frame_features(magnitude)
            frame_tokens = frame_attention.clip_tokens(frame_features, negative)
        if band_attention is not None:
            with torch.no_grad():
                features = self.separator.band_features(magnitude)
            band_tokens = band_attention.clip_tokens(features, negative)
        return frame_tokens, band_tokens

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
    for key in ("support_attention", "support_band_attention"):
        if mode == "onehot" and int(model_cfg.get(key) or 0) > 0:
            raise ValueError(f"model.{key} needs example clips, which the one-hot baseline does not "
                             "have: set it to 0 for conditioning 'onehot'")
    separator = separator_from_config(model_cfg, conditioning_dim(embedding_dim))
    encoder = encoder_from_config(model_cfg)
    class_embedding = None
    if mode == "onehot":
        classes = model_cfg.get("classes")
        num_classes = len(classes) if classes else int(model_cfg.get("num_classes", 256))
        class_embedding = ClassEmbedding(num_classes, embedding_dim)
    return FewShotModel(separator, encoder, embedding_dim, mode, class_embedding)
