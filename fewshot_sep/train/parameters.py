"""What a run trains and how it starts: trainable parameters, optimiser groups, warm starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from fewshot_sep.model import FewShotModel
from fewshot_sep.model.widen import output_difference, widen_state_dict
from fewshot_sep.runs.checkpoint import CHECKPOINT_NAME, CONFIG_NAME, load_checkpoint, read_checkpoint
from fewshot_sep.utils.errors import UserError


def trainable_parameters(model: FewShotModel, prefixes: list[str] | None,
                         frozen_norms: str = "running") -> list[torch.nn.Parameter]:
    """The parameters a run trains: all of them, or (``train.trainable``) those whose names
    start with one of ``prefixes``; the others are frozen (``requires_grad = False``), and
    so is every batch norm whose weights are frozen: it keeps its running statistics
    (momentum 0) and, with ``frozen_norms="running"`` (``train.frozen_norms``, the default),
    normalises with them in training too, so a run that trains only part of the model (the
    conditioning path, a fine head) leaves the rest of the separator exactly as it started and
    computing exactly what it computes at inference. ``"batch"`` normalises with each batch's
    statistics in training (how stage 9 ran, before the option existed).
    Raises :class:`UserError` for a prefix that names no parameter."""
    if not prefixes:
        return list(model.parameters())
    named = dict(model.named_parameters())
    for prefix in prefixes:
        if not any(name.startswith(prefix) for name in named):
            groups = sorted({".".join(name.split(".")[:2]) for name in named})
            raise UserError(f"train.trainable {prefix!r} names no parameter of this model: use prefixes of "
                            f"parameter names such as {', '.join(groups[:8])} ...")
    chosen = []
    for name, param in named.items():
        param.requires_grad_(any(name.startswith(prefix) for prefix in prefixes))
        if param.requires_grad:
            chosen.append(param)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.weight is not None \
                and not module.weight.requires_grad:
            module.momentum = 0.0
            if frozen_norms == "running" and not getattr(module, "_inference_normalisation", False):
                module.register_forward_pre_hook(_inference_normalisation)
                module._inference_normalisation = True  # once per module, however often this runs
    return chosen


def parameter_groups(model: FewShotModel, parameters: list[torch.nn.Parameter],
                     lr_scale: dict[str, float] | None) -> list[dict[str, Any]]:
    """Optimiser groups: ``parameters`` in one group, or (``train.lr_scale``, a mapping of
    parameter-name prefix -> learning-rate factor) one group per factor, e.g. a new layer
    that starts at zero in a warm-started model learning 10x faster than the rest.
    Raises :class:`UserError` for a prefix that names no trained parameter or a bad factor."""
    if not lr_scale:
        return [{"params": parameters, "lr_scale": 1.0}]
    chosen = {id(p) for p in parameters}
    named = [(name, p) for name, p in model.named_parameters() if id(p) in chosen]
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for prefix, factor in lr_scale.items():
        if not isinstance(factor, (int, float)) or not factor > 0:
            raise UserError(f"train.lr_scale[{prefix!r}] {factor!r} is invalid: use a positive factor such as 10")
        if not any(name.startswith(prefix) for name, _ in named):
            raise UserError(f"train.lr_scale {prefix!r} names no trained parameter: use a prefix of parameter "
                            "names such as separator.lookahead")
    for name, param in named:
        factors = [float(f) for prefix, f in lr_scale.items() if name.startswith(prefix)]
        groups.setdefault(factors[-1] if factors else 1.0, []).append(param)
    return [{"params": params, "lr_scale": factor} for factor, params in groups.items()]


def _inference_normalisation(module: torch.nn.Module, _inputs: Any) -> None:
    """Forward pre-hook of a frozen batch norm: normalise with the running statistics even
    when the model is in training mode (``model.train()`` would switch it to batch statistics;
    the hook switches it back before every forward, so ``module.training`` reads False after one)."""
    module.training = False


def initialise_from(model: FewShotModel, source: str | os.PathLike) -> None:
    """Copy every weight of checkpoint ``source`` (``.pt`` file or run folder, its
    ``checkpoint.pt``) whose name and shape match into ``model`` (a warm start: e.g.
    a second training stage, or the one-hot baseline from the same separator).
    Tensors of separator layers the model has made wider (more channels, a larger
    GRU) are embedded so that the wider model computes what the checkpoint did
    (:func:`fewshot_sep.model.widen.widen_state_dict`); when the checkpoint's
    ``config.json`` lies beside it, that is checked on both models' outputs and
    reported.
    Raises :class:`UserError` when nothing matches."""
    path = Path(source)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    own = model.state_dict()
    loaded = read_checkpoint(path)["model"]
    matching, widened = widen_state_dict(loaded, model)
    if not matching:
        raise UserError(f"train.init_from {source}: no weight matches this model's architecture; "
                        f"give a checkpoint of the same model config or remove init_from")
    model.load_state_dict(matching, strict=False)
    skipped = sorted(set(own) - set(matching))
    print(f"initialised {len(matching)}/{len(own)} tensors from {path}"
          + (f", {len(widened)} of them widened" if widened else "")
          + (f" (kept fresh: {', '.join(skipped[:6])}{' ...' if len(skipped) > 6 else ''})" if skipped else ""))
    source_config = path.parent / CONFIG_NAME
    if widened and source_config.exists():
        # Check the widening on the checkpoint's own model: equal outputs = function-preserving.
        narrow, _ = load_checkpoint(path)
        diff = output_difference(narrow, model)
        verdict = "function-preserving" if diff < 1e-4 else "NOT function-preserving (a warm start only)"
        print(f"widened model vs {source_config.parent}: max output difference {diff:.2e}, {verdict}")
