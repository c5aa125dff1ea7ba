"""Conditioning encoder: one example clip's magnitude -> a timbre embedding.

``forward(magnitude [N, 1, 513, T]) -> embedding [N, E]`` (one clip per batch
item, any T >= 1 s of frames). Pipeline: fixed mel-like triangular projection
(513 -> ``n_mels``), log, subtraction of the clip's mean log level (so the
embedding ignores overall gain), a dilated 1-D conv stack over time, mean and
standard-deviation pooling over time, a linear layer and L2 normalisation.
The embedding of a support set is the plain mean of its clips' embeddings
(docs/internals.md), which is permutation-invariant by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from fewshot_sep.contract.signal import N_BINS, SAMPLE_RATE


def mel_filterbank(n_mels: int = 64, n_bins: int = N_BINS, sample_rate: int = SAMPLE_RATE,
                   f_min: float = 30.0, f_max: float = 16000.0) -> np.ndarray:
    """Triangular mel filters ``[n_mels, n_bins]`` float32 (HTK mel scale, unit peak)."""
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    freqs = np.linspace(0.0, sample_rate / 2.0, n_bins)
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(f_min)), hz_to_mel(np.array(f_max)), n_mels + 2))
    bank = np.zeros((n_mels, n_bins), dtype=np.float64)
    for m in range(n_mels):
        lo, centre, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (freqs - lo) / max(centre - lo, 1e-9)
        falling = (hi - freqs) / max(hi - centre, 1e-9)
        bank[m] = np.clip(np.minimum(rising, falling), 0.0, None)
        if bank[m].sum() == 0.0:  # narrower than a bin: take the nearest bin
            bank[m, int(np.argmin(np.abs(freqs - centre)))] = 1.0
    return bank.astype(np.float32)


class ClipEncoder(nn.Module):
    """Example clip -> L2-normalised embedding ``[N, E]``."""

    def __init__(self, embedding_dim: int = 128, n_mels: int = 64, hidden: int = 96,
                 dilations: tuple[int, ...] = (1, 2, 4)) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.register_buffer("mel", torch.from_numpy(mel_filterbank(n_mels)), persistent=False)
        layers: list[nn.Module] = []
        in_ch = n_mels
        for dilation in dilations:
            layers += [nn.Conv1d(in_ch, hidden, 3, padding=dilation, dilation=dilation),
                       nn.BatchNorm1d(hidden), nn.LeakyReLU(0.1)]
            in_ch = hidden
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Linear(2 * hidden, embedding_dim)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Args: magnitude ``[N, 1, 513, T]`` linear STFT magnitude. Returns ``[N, E]``."""
        return self.embed_frames(self.frame_features(magnitude))

    def frame_features(self, magnitude: torch.Tensor) -> torch.Tensor:
        """``[N, 1, 513, T]`` linear STFT magnitude -> per-frame features ``[N, hidden, T]``
        (what the embedding pools)."""
        spec = magnitude[:, 0]                                   # [N, 513, T]
        mel = torch.matmul(self.mel, spec)                       # [N, n_mels, T]
        logmel = torch.log(mel + 1e-3)
        logmel = logmel - logmel.mean(dim=(1, 2), keepdim=True)  # gain invariance
        return self.convs(logmel)                                # [N, hidden, T]

    def embed_frames(self, h: torch.Tensor) -> torch.Tensor:
        """Per-frame features ``[N, hidden, T]`` -> L2-normalised embedding ``[N, E]``."""
        pooled = torch.cat([h.mean(dim=-1), h.std(dim=-1, unbiased=False)], dim=-1)
        emb = self.proj(pooled)
        return emb / (emb.norm(dim=-1, keepdim=True) + 1e-6)


class ClassEmbedding(nn.Module):
    """One-hot baseline: instrument class id ``[N]`` int64 -> L2-normalised embedding ``[N, E]``."""

    def __init__(self, num_classes: int, embedding_dim: int = 128) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.table = nn.Embedding(num_classes, embedding_dim)

    def forward(self, class_id: torch.Tensor) -> torch.Tensor:
        emb = self.table(class_id)
        return emb / (emb.norm(dim=-1, keepdim=True) + 1e-6)


def encoder_from_config(model_cfg: dict[str, Any]) -> ClipEncoder:
    """Build a :class:`ClipEncoder` from the ``model`` section of a config."""
    return ClipEncoder(embedding_dim=int(model_cfg.get("embedding_dim", 128)),
                       n_mels=int(model_cfg.get("encoder_mels", 64)),
                       hidden=int(model_cfg.get("encoder_hidden", 96)),
                       dilations=tuple(int(d) for d in model_cfg.get("encoder_dilations", (1, 2, 4))))
