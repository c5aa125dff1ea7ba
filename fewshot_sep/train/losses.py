"""Training losses and the SI-SDR metric (torch).

All waveforms are ``[B, n]`` float32 at 44.1 kHz and already time-aligned.
"""

from __future__ import annotations

import torch


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SDR in dB, per item: ``[B, n], [B, n] -> [B]``.

    Both signals are made zero-mean; the reference is scaled optimally onto the estimate.
    """
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    reference = reference - reference.mean(dim=-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + eps)
    projection = scale * reference
    noise = estimate - projection
    return 10 * torch.log10((projection.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


def compressed_magnitude_l1(estimate_spec: torch.Tensor, target_spec: torch.Tensor, power: float = 0.3) -> torch.Tensor:
    """Mean L1 distance between ``|S|^power`` of two complex spectra ``[B, F, T]`` (scalar)."""
    return (estimate_spec.abs().clamp_min(1e-8).pow(power) - target_spec.abs().clamp_min(1e-8).pow(power)).abs().mean()


def separation_loss(estimate: torch.Tensor, target: torch.Tensor, estimate_spec: torch.Tensor,
                    target_spec: torch.Tensor, sisdr_weight: float = 1.0, magnitude_weight: float = 5.0,
                    sisdr_clip_db: float = 40.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``-SI-SDR`` (waveform) + a compressed-magnitude L1 term.

    Returns ``(loss scalar, si_sdr per item [B] detached)``. SI-SDR is clipped at
    ``sisdr_clip_db`` so items already separated well stop dominating the gradient.
    """
    sdr = si_sdr(estimate, target)
    loss = -sisdr_weight * sdr.clamp(max=sisdr_clip_db).mean()
    if magnitude_weight:
        loss = loss + magnitude_weight * compressed_magnitude_l1(estimate_spec, target_spec)
    return loss, sdr.detach()


def negative_leakage_db(mask: torch.Tensor, negative_spec: torch.Tensor, target_spec: torch.Tensor,
                        floor_db: float = -30.0, eps: float = 1e-10) -> torch.Tensor:
    """How much of the negative instrument the mask lets through, in dB re the target, per item.

    ``mask [B, F, T]`` (real, in [0, 1]), ``negative_spec`` / ``target_spec [B, F, T]`` complex
    spectra of the negative instrument's stem in the mixture and of the target -> ``[B]``:
    ``10 log10(|mask * N|^2 / |T|^2)``, clamped below at ``floor_db`` (an item whose leakage
    is already that small gives no gradient). Minimising it where the model was given
    negative clips teaches the conditioning to suppress exactly that instrument; the
    separation loss on the same item keeps the target from being suppressed with it.
    """
    leak = (mask * negative_spec.abs()).pow(2).sum(dim=(-2, -1))
    reference = target_spec.abs().pow(2).sum(dim=(-2, -1))
    return (10 * torch.log10((leak + eps) / (reference + eps))).clamp(min=floor_db)


def prototype_loss(embeddings: torch.Tensor, labels: torch.Tensor, scale: float = 10.0) -> torch.Tensor:
    """Auxiliary loss that makes clip embeddings discriminate instruments (scalar).

    ``embeddings [N, E]`` (L2-normalised clip embeddings), ``labels [N]`` int64
    instrument ids. Each label's prototype is the mean embedding of its clips;
    every clip is classified against all prototypes by scaled cosine
    similarity, with cross-entropy to its own label (as in prototypical
    networks). Returns 0 when the batch holds fewer than two instruments.
    """
    classes, index = torch.unique(labels, return_inverse=True)
    if len(classes) < 2:
        return embeddings.sum() * 0.0
    sums = torch.zeros(len(classes), embeddings.shape[1], dtype=embeddings.dtype, device=embeddings.device)
    sums.index_add_(0, index, embeddings)
    prototypes = sums / torch.bincount(index, minlength=len(classes)).clamp_min(1).to(embeddings.dtype)[:, None]
    prototypes = prototypes / (prototypes.norm(dim=-1, keepdim=True) + 1e-6)
    logits = scale * embeddings @ prototypes.T
    return torch.nn.functional.cross_entropy(logits, index)
