"""Exponential moving average (EMA) of a model's weights during training.

SGD noise makes the weights of one step wander around the region the loss has
settled in: validation of single checkpoints moved by +-0.2 dB from one
validation to the next in the stage-2/3 runs while the training loss was flat.
The average of the recent weights sits nearer the middle of that region.
The EMA model is a full copy of the model (BatchNorm running statistics
averaged too), so it is validated, saved as ``best.pt`` and exported like any
other model.
"""

from __future__ import annotations

import copy
from typing import Any

import torch


class WeightAverage:
    """EMA of every floating-point parameter and buffer of ``model``.

    ``decay`` in (0, 1): the weight of the old average per :meth:`update`; the
    effective decay ramps up as ``min(decay, (1 + n) / (10 + n))`` over the
    first updates ``n`` so that the average does not stay tied to its start.
    Integer buffers (BatchNorm's ``num_batches_tracked``) are copied.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay {decay} is invalid: give a value in (0, 1), e.g. 0.998")
        self.decay = float(decay)
        self.updates = 0
        self.model = copy.deepcopy(model)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def _pairs(self, model: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
        mine = self.model.state_dict(keep_vars=True)
        return [(mine[name], value) for name, value in model.state_dict(keep_vars=True).items()]

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average towards ``model``'s current weights (after an optimiser step)."""
        decay = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for avg, new in self._pairs(model):
            if avg.dtype.is_floating_point:
                avg.lerp_(new.detach(), 1.0 - decay)
            else:
                avg.copy_(new)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights (a model ``state_dict``) and the update count."""
        return {"weights": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["weights"])
        self.updates = int(state["updates"])
