"""Timbre augmentation, mixing and peak limiting in torch, on the training device.

On a GPU run the batch workers' CPU time, mostly the augmentation's FFTs, set the
pace (docs/gpu-training.md). With ``data.augment.on_device`` the workers make a
*deferred* batch (:func:`fewshot_sep.train.batches.make_deferred_batch`: raw
sources and the drawn parameters) and :func:`finish_batch` does the rest where
the model runs. Same draws as :func:`fewshot_sep.train.batches.augment`; every
row goes through one FFT padded for the longest reverb tail (the plain
definition that ``augment`` approximates for EQ-only rows to within -85 dB).
"""

from __future__ import annotations

import torch

from fewshot_sep.train.batches import (_DB_TO_LOG_GAIN, AUGMENT_PARAM_FIELDS, SAMPLE_RATE, AugmentConfig, _EqGrid,
                                       _fft_size)


_GRIDS: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _grid_on(n_fft: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The EQ knot grid of ``n_fft`` (``_EqGrid``) as tensors on `device`, copied there once."""
    key = (n_fft, str(device))
    if key not in _GRIDS:
        grid = _EqGrid.of(n_fft)
        _GRIDS[key] = tuple(torch.from_numpy(a).to(device) for a in (grid.left, grid.frac, grid.octaves))
    return _GRIDS[key]


def augment_rows(rows: torch.Tensor, knots_db: torch.Tensor, tilt_db: torch.Tensor, reverb_row: torch.Tensor,
                 irs: torch.Tensor, cfg: AugmentConfig) -> torch.Tensor:
    """Filter every row of ``rows [R, n]`` by its EQ (``knots_db [R, 8]``, ``tilt_db [R]``) and,
    for the rows ``reverb_row [Q]``, by the impulse responses ``irs [Q, L]``; each row keeps its
    RMS. Returns ``[R, n]`` float32 on the rows' device."""
    if rows.shape[0] == 0:
        return rows
    n = rows.shape[-1]
    n_fft = _fft_size(n + int(cfg.reverb_rt60[1] * SAMPLE_RATE))
    left, frac, octaves = _grid_on(n_fft, rows.device)
    curve_db = knots_db[:, left] * (1.0 - frac) + knots_db[:, left + 1] * frac + tilt_db[:, None] * octaves
    response = torch.exp(curve_db * float(_DB_TO_LOG_GAIN)).to(torch.complex64)
    if reverb_row.numel():
        response[reverb_row] = response[reverb_row] * torch.fft.rfft(irs, n_fft)
    out = torch.fft.irfft(torch.fft.rfft(rows, n_fft) * response, n_fft)[:, :n]
    rms_in = rows.pow(2).mean(-1, keepdim=True).sqrt() + 1e-8
    rms_out = out.pow(2).mean(-1, keepdim=True).sqrt() + 1e-8
    return out * (rms_in / rms_out)


_GROUPS = {"source": "source_rows", "support": "support", "negatives": "negatives"}  # prefix -> rows key


def _group(batch: dict[str, torch.Tensor], prefix: str, cfg: AugmentConfig) -> torch.Tensor:
    return augment_rows(batch[_GROUPS[prefix]], *(batch[f"{prefix}_{f}"] for f in AUGMENT_PARAM_FIELDS), cfg)


def finish_batch(batch: dict[str, torch.Tensor], cfg: AugmentConfig) -> dict[str, torch.Tensor]:
    """A deferred batch (tensors on the training device) -> the batch ``make_batch`` gives
    with the augmentation on the CPU: augmented sources mixed per episode, the mixture,
    target and negative stem scaled together so the mixture's peak is at most the batch's
    ``source_peak_limit``, augmented support and negative clips. Other keys pass through."""
    peak_limit = batch["source_peak_limit"].reshape(1, 1)
    sources = _group(batch, "source", cfg)                              # [Rs, n]
    episode = batch["source_episode"]
    n_episodes = batch["has_negatives"].shape[0]
    mixture = torch.zeros(n_episodes, sources.shape[-1], dtype=sources.dtype, device=sources.device)
    mixture.index_add_(0, episode, sources)
    target = torch.zeros_like(mixture).index_add_(0, episode, sources * batch["source_is_target"][:, None])
    negative = torch.zeros_like(mixture).index_add_(0, episode, sources * batch["source_is_negative"][:, None])
    peak = mixture.abs().amax(dim=-1, keepdim=True)
    scale = torch.where(peak > peak_limit, peak_limit / peak.clamp_min(1e-12), torch.ones_like(peak))
    deferred = {f"{prefix}_{f}" for prefix in _GROUPS for f in AUGMENT_PARAM_FIELDS}
    deferred |= {k for k in batch if k.startswith("source_")}  # the sources and their bookkeeping
    out = {k: v for k, v in batch.items() if k not in deferred}
    out.update(mixture=mixture * scale, target=target * scale, negative_source=negative * scale,
               support=_group(batch, "support", cfg), negatives=_group(batch, "negatives", cfg))
    return out
