"""One training step's model work: conditioning, separation, the loss; validation scores.

A batch of episodes (:mod:`fewshot_sep.train.batches`) -> mixture STFT -> conditioning
vectors (mean support embedding, mean negative embedding, flag; or the class embedding
for the baseline) -> separator mask -> masked mixture STFT -> iSTFT (project framing,
delay ``n_fft - 1``) -> loss ``-SI-SDR + w * |compressed magnitude error|`` against the
aligned target. The training loop (:mod:`fewshot_sep.train.loop`) and the evaluation of
torch checkpoints use these functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from fewshot_sep.model import FewShotModel
from fewshot_sep.model import stft as S
from fewshot_sep.train.batches import make_batch
from fewshot_sep.train.losses import negative_leakage_db, prototype_loss, separation_loss, si_sdr

LATENCY = S.LATENCY_SAMPLES


def _segment_mean(values: torch.Tensor, segment: torch.Tensor, n_segments: int) -> torch.Tensor:
    """Mean of the rows of ``values [N, E]`` per segment id ``[N]`` -> ``[n_segments, E]``."""
    sums = torch.zeros(n_segments, values.shape[1], dtype=values.dtype, device=values.device)
    sums.index_add_(0, segment, values)
    counts = torch.bincount(segment, minlength=n_segments).clamp_min(1).to(values.dtype)
    return sums / counts[:, None]


def class_rows_of(model_config: dict[str, Any]) -> dict[int, int] | None:
    """One-hot model: instrument label -> row of its class table (the label's position in
    ``model.classes``); ``None`` for a few-shot model or when no classes are listed."""
    classes = model_config.get("classes") if model_config.get("conditioning") == "onehot" else None
    return {int(c): i for i, c in enumerate(classes)} if classes else None


def batch_clip_frames(model: FewShotModel, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | None]:
    """The clip encoder's frame features of a batch's clips, computed once per step and shared
    by the conditioning and the prototype loss:
    ``{"support": [S, C, T_clip], "negatives": [J, C, T_clip] or None (no negative clips)}``."""
    out: dict[str, torch.Tensor | None] = {}
    for key in ("support", "negatives"):
        clips = batch[key]
        out[key] = model.encoder.frame_features(S.stft(clips).abs().unsqueeze(1)) if clips.shape[0] > 0 else None
    return out


def support_embeddings(model: FewShotModel, batch: dict[str, torch.Tensor],
                       frames: dict[str, torch.Tensor | None] | None = None) -> torch.Tensor:
    """Embeddings ``[S, E]`` of a batch's support clips (``batch["support"] [S, m]``), from
    ``frames`` (:func:`batch_clip_frames`) when the caller has them."""
    frames = frames or batch_clip_frames(model, batch)
    return model.encoder.embed_frames(frames["support"])


def batch_conditioning(model: FewShotModel, batch: dict[str, torch.Tensor],
                       class_index: dict[int, int] | None = None,
                       support_emb: torch.Tensor | None = None,
                       frames: dict[str, torch.Tensor | None] | None = None) -> torch.Tensor:
    """Conditioning vectors ``[B, 2E + 1]`` of a batch (few-shot or one-hot, per the model).

    ``support_emb [S, E]``: the support clips' embeddings when the caller has already
    computed them (training with the prototype loss); ``frames``: the clips' frame features
    (:func:`batch_clip_frames`); whatever is not given is computed here.
    """
    n_episodes = batch["mixture"].shape[0]
    if model.conditioning_mode == "onehot":
        assert class_index is not None
        ids = [class_index.get(int(label), 0) for label in batch["target_instrument"].tolist()]
        return model.conditioning_for_class(torch.tensor(ids, device=batch["mixture"].device))
    frames = frames or batch_clip_frames(model, batch)
    if support_emb is None:
        support_emb = model.encoder.embed_frames(frames["support"])
    positive = _segment_mean(support_emb, batch["support_episode"], n_episodes)
    if frames["negatives"] is None:
        return torch.cat([positive, torch.zeros_like(positive), torch.zeros_like(positive[:, :1])], dim=-1)
    negative = _segment_mean(model.encoder.embed_frames(frames["negatives"]), batch["negative_episode"], n_episodes)
    flag = batch["has_negatives"].reshape(-1, 1)
    return torch.cat([positive, negative * flag, flag], dim=-1)


def separate_batch(model: FewShotModel, batch: dict[str, torch.Tensor], conditioning: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked mixture: ``(estimate [B, n] delayed by n_fft - 1, estimate spectrum [B, 513, T])``."""
    estimate, est_spec, _ = separate_batch_with_mask(model, batch, conditioning)
    return estimate, est_spec


def separate_batch_with_mask(model: FewShotModel, batch: dict[str, torch.Tensor], conditioning: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`separate_batch` plus the mask ``[B, 513, T]`` it applied. A ``stereo_input``
    separator also reads ``batch["mixture_other"]`` (the other channel; absent: mono)."""
    spec = S.stft(batch["mixture"])
    magnitude = spec.abs().unsqueeze(1)
    if getattr(model.separator, "stereo_input", False) and "mixture_other" in batch:
        magnitude = torch.cat([magnitude, S.stft(batch["mixture_other"]).abs().unsqueeze(1)], dim=1)
    mask = model.separator.aligned_mask(magnitude, conditioning)[:, 0]
    est_spec = mask * spec
    return S.istft(est_spec, batch["mixture"].shape[-1]), est_spec, mask


def batch_loss(model: FewShotModel, batch: dict[str, torch.Tensor], train_cfg: dict[str, Any],
               class_index: dict[int, int] | None = None, prototype_weight: float = 0.0,
               parts: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The training objective on one batch: ``(loss scalar, SI-SDR per episode [B] detached)``.

    Separation loss (weights from ``train_cfg``) plus, for the few-shot model with
    ``prototype_weight > 0``, the prototype loss on the support embeddings, and with
    ``negative_leak_weight > 0``, the negative-leakage term
    (:func:`~fewshot_sep.train.losses.negative_leakage_db`) averaged over the episodes
    that have negatives.

    ``parts``, when given, receives the unweighted extra terms as detached tensors (no
    host sync here): ``"leak_db"``, the leakage term's sum over the batch's episodes with
    negatives, and ``"leak_episodes"``, how many there were (both 0-d).
    """
    support_emb = frames = None
    if model.conditioning_mode == "fewshot":
        frames = batch_clip_frames(model, batch)  # each clip through the encoder once per step
        if prototype_weight:
            support_emb = support_embeddings(model, batch, frames)
    conditioning = batch_conditioning(model, batch, class_index, support_emb, frames)
    estimate, est_spec, mask = separate_batch_with_mask(model, batch, conditioning)
    target_spec = S.stft(batch["target"])
    # est is delayed by n_fft - 1 samples; compare with the equally delayed target.
    loss, sdr = separation_loss(estimate[:, LATENCY:], batch["target"][:, :-LATENCY], est_spec,
                                target_spec, float(train_cfg["sisdr_weight"]),
                                float(train_cfg["magnitude_weight"]))
    leak_weight = float(train_cfg.get("negative_leak_weight") or 0.0)
    if leak_weight and model.conditioning_mode == "fewshot" and "negative_source" in batch:
        flag = batch["has_negatives"]  # no host sync on the flag: a batch without negatives adds 0
        leak = negative_leakage_db(mask, S.stft(batch["negative_source"]), target_spec,
                                   float(train_cfg.get("negative_leak_floor_db", -30.0)))
        leak_sum, leak_episodes = (leak * flag).sum(), flag.sum()
        loss = loss + leak_weight * leak_sum / leak_episodes.clamp_min(1.0)
        if parts is not None:
            parts["leak_db"], parts["leak_episodes"] = leak_sum.detach(), leak_episodes.detach()
    if support_emb is not None:
        labels = batch["target_instrument"][batch["support_episode"]]
        loss = loss + prototype_weight * prototype_loss(support_emb, labels)
    return loss, sdr


def to_tensors(batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """A batch (numpy arrays or CPU tensors, pinned ones too) as tensors on ``device``."""
    return {k: (v if isinstance(v, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(v))
                ).to(device, non_blocking=True) for k, v in batch.items()}


def validation_batches(source: Any, episodes: int, batch_size: int, device: torch.device
                       ) -> list[dict[str, torch.Tensor]]:
    """Episodes ``0 .. episodes - 1`` of ``source`` as un-augmented batches of ``batch_size`` on
    ``device``: the fixed validation set (empty for 0 episodes)."""
    return [to_tensors(make_batch(OffsetSource(source, start), 0, min(batch_size, episodes - start), 0), device)
            for start in range(0, episodes, batch_size)]


def evaluate(model: FewShotModel, val_batches: list[dict[str, torch.Tensor]],
             class_index: dict[int, int] | None = None) -> np.ndarray:
    """SI-SDR improvement (dB) of every validation episode, ``[n_episodes]``."""
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for batch in val_batches:
            est, _ = separate_batch(model, batch, batch_conditioning(model, batch, class_index))
            target = batch["target"][:, :-LATENCY]
            mixture = batch["mixture"][:, :-LATENCY]
            out.append((si_sdr(est[:, LATENCY:], target) - si_sdr(mixture, target)).cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0)


def learning_rate(step: int, train_cfg: dict[str, Any]) -> float:
    """Linear warm-up then cosine decay to ``final_lr_fraction * lr`` at ``total_steps``."""
    base = float(train_cfg["lr"])
    warm = min(1.0, (step + 1) / max(1, int(train_cfg["warmup_steps"])))
    progress = min(1.0, step / max(1, int(train_cfg["total_steps"])))
    final = float(train_cfg["final_lr_fraction"])
    return base * warm * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress)))


class OffsetSource:
    """View of an episode source shifted by ``offset``: batch ``make_batch(OffsetSource(src, n), 0, b, seed)``
    holds episodes ``n .. n + b - 1`` (validation batches of fixed episodes)."""

    def __init__(self, source: Any, offset: int) -> None:
        self.source, self.offset = source, offset

    def episode(self, index: int) -> Any:
        return self.source.episode(self.offset + index)
