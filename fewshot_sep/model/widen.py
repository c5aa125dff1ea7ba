"""Function-preserving widening: start a wider model from a trained narrower one.

A trained checkpoint whose layers are narrower than the model's (more channels in
some U-Net levels, a larger GRU) is embedded into the wider model so that the wide
model computes exactly what the narrow one did (the "zero outgoing weights"
variant of Net2Net, Chen et al., ICLR 2016):

- every old unit keeps its weights, and its weights *from* the new units are zero,
  so old units never see the new ones;
- every new unit keeps the wider model's fresh random weights (from all inputs,
  old and new), so it computes something useful to learn from and gets gradients
  through the (trainable) zero weights that lead out of it.

Layouts that need care: a GRU stacks its three gates (r, z, n) along the output
axis, a :class:`FiLM` projection stacks gamma and beta, a transposed convolution
stores ``[in, out, ...]``. A flatten of ``[C, bins]`` per frame (the separator's
bottleneck) keeps channel ``c`` at ``c * bins + b``, so old channels stay a
leading block as long as ``bins`` does not change (checked; otherwise the
bottleneck is left out).

Only the separator is widened. The clip encoder (its output is L2-normalised and
its pooling stacks mean and std) and the conditioning vector's size
(``[positive E | negative E | flag]``) cannot grow this way: their tensors are
copied when their shapes match and otherwise left out.
"""

from __future__ import annotations

import torch
from torch import nn

from fewshot_sep.model.layers import BandMerge, BandSplit, FiLM, FineHead
from fewshot_sep.model.separator import Separator


def _embed(old: torch.Tensor, fresh: torch.Tensor, out_axis: int | None, in_axis: int | None,
           groups: int = 1) -> torch.Tensor:
    """Put ``old`` into a copy of ``fresh``: the old units' block (per group along
    ``out_axis``) gets the old values, the old units' weights from new inputs
    (``in_axis``) become zero, everything else keeps ``fresh``'s values. An axis
    given as ``None`` cannot grow (e.g. the bins of a band-merge output)."""
    if out_axis is None:  # fixed outputs: only new inputs, whose weights become zero
        if in_axis is None:
            raise ValueError(f"cannot widen {tuple(old.shape)} to {tuple(fresh.shape)}: no axis may grow")
        old = old.unsqueeze(0)
        fresh = fresh.unsqueeze(0)
        return _embed(old, fresh, 0, in_axis + 1, groups)[0]
    for axis in range(old.dim()):
        if axis not in (out_axis, in_axis) and old.shape[axis] != fresh.shape[axis]:
            raise ValueError(f"cannot widen {tuple(old.shape)} to {tuple(fresh.shape)}: axis {axis} differs")
    if old.shape[out_axis] % groups or fresh.shape[out_axis] % groups:
        raise ValueError(f"cannot split {tuple(old.shape)} / {tuple(fresh.shape)} into {groups} groups")
    new = fresh.detach().clone()
    old_out, new_out = old.shape[out_axis] // groups, fresh.shape[out_axis] // groups
    if old_out > new_out or (in_axis is not None and old.shape[in_axis] > fresh.shape[in_axis]):
        raise ValueError(f"cannot widen {tuple(old.shape)} to the narrower {tuple(fresh.shape)}")
    for g in range(groups):
        dst_rows = new.narrow(out_axis, g * new_out, old_out)
        src_rows = old.narrow(out_axis, g * old_out, old_out)
        if in_axis is None:
            dst_rows.copy_(src_rows)
            continue
        n_in = old.shape[in_axis]
        dst_rows.narrow(in_axis, 0, n_in).copy_(src_rows)
        dst_rows.narrow(in_axis, n_in, fresh.shape[in_axis] - n_in).zero_()
    return new


def _layout(module: nn.Module, name: str, film_projections: set[int], fixed_in: set[int],
            fixed_out: set[int]) -> tuple[int | None, int | None, int] | None:
    """``(out_axis, in_axis, groups)`` of parameter or buffer ``name`` of ``module``
    (``None`` for an axis that cannot grow), or ``None`` when its layout is unknown
    (then it can only be copied as is)."""
    is_bias = name.startswith("bias")
    if id(module) in fixed_in or id(module) in fixed_out:  # linear maps from/to spectrum bins
        out_axis = None if id(module) in fixed_out else 0
        return out_axis, (None if is_bias or id(module) in fixed_in else 1), 1
    if isinstance(module, nn.GRU):
        in_axis = None if is_bias else 1
        return 0, in_axis, 3
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
        return (0, None, 1) if is_bias else (1, 0, 1)
    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
        groups = 2 if id(module) in film_projections else 1
        return (0, None, groups) if is_bias else (0, 1, groups)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and name != "num_batches_tracked":
        return 0, None, 1
    return None


def _same_bottleneck_bins(old_state: dict[str, torch.Tensor], separator: Separator, prefix: str) -> bool:
    """Whether the checkpoint's bottleneck flattens as many bins per channel as ``separator``'s
    (then its old channels are a leading block of the flattened features)."""
    last = (f"{prefix}enc_convs.{len(separator.enc_convs) - 1}.conv.weight" if len(separator.enc_convs)
            else f"{prefix}band_split.proj.weight")
    flat = old_state.get(f"{prefix}bottleneck_in.weight")
    if last not in old_state or flat is None:
        return False
    old_channels = int(old_state[last].shape[0])
    return int(flat.shape[1]) == old_channels * separator.bottleneck_bins


def widen_state_dict(old_state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map the narrower checkpoint ``old_state`` onto ``model``'s (wider) tensors.

    Returns ``(state, widened)``: ``state`` holds, for every tensor name present in
    both, the old tensor (same shape) or its function-preserving embedding (wider
    shape); ``widened`` names the embedded ones. Names missing from ``old_state``,
    or whose layout cannot be widened, are left out (they keep ``model``'s values).
    """
    film_projections = {id(m.proj) for m in model.modules() if isinstance(m, FiLM)}
    # Their bin axes are laid out by band (not units appended at the end): only channels grow.
    fixed_in = {id(m.proj) for m in model.modules() if isinstance(m, BandSplit)}
    fixed_out = {id(m.proj) for m in model.modules() if isinstance(m, BandMerge)}
    fixed_out |= {id(m.band_proj) for m in model.modules() if isinstance(m, FineHead)}
    widenable: set[int] = set()
    for prefix, separator in model.named_modules():
        if isinstance(separator, Separator):
            fixed_in.add(id(separator.context[0]))  # the conditioning vector's layout is fixed
            inner = {id(m) for m in separator.modules()}
            if not _same_bottleneck_bins(old_state, separator, f"{prefix}." if prefix else ""):
                inner -= {id(separator.bottleneck_in), id(separator.bottleneck_out)}
            widenable |= inner
    state: dict[str, torch.Tensor] = {}
    widened: list[str] = []
    for module_name, module in model.named_modules():
        own = list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))
        for name, tensor in own:
            full = f"{module_name}.{name}" if module_name else name
            old = old_state.get(full)
            if old is None:
                continue
            if old.shape == tensor.shape:
                state[full] = old
                continue
            layout = _layout(module, name, film_projections, fixed_in, fixed_out)
            if layout is None or old.dim() != tensor.dim() or id(module) not in widenable:
                continue
            try:
                state[full] = _embed(old, tensor, *layout)
            except ValueError:
                continue
            widened.append(full)
    return state, widened


def output_difference(reference: nn.Module, candidate: nn.Module, frames: int = 180, seed: int = 0) -> float:
    """Largest absolute difference of two models' outputs (eval mode) on one random batch:
    the clip encoder's embeddings of ``[2, 1, 513, frames]`` magnitudes and the
    separator's masks of the same magnitudes with random conditioning vectors.
    After a widening it is float rounding (about 1e-5 in float32) when the function
    was preserved, and of the order of the outputs when it was not; ``inf`` when the
    two models take conditioning vectors of different sizes."""
    if reference.separator.conditioning_dim != candidate.separator.conditioning_dim:
        return float("inf")
    gen = torch.Generator().manual_seed(seed)
    magnitude = 0.02 * torch.rand(2, 1, 513, frames, generator=gen)
    conditioning = torch.randn(2, reference.separator.conditioning_dim, generator=gen)
    modes = reference.training, candidate.training
    reference.eval()
    candidate.eval()
    try:
        with torch.no_grad():
            masks = (reference.separator(magnitude, conditioning)[0]
                     - candidate.separator(magnitude, conditioning)[0]).abs().max()
            embeddings = (reference.embed_clips(magnitude) - candidate.embed_clips(magnitude)).abs().max()
            return float(max(masks, embeddings))
    finally:
        reference.train(modes[0])
        candidate.train(modes[1])
