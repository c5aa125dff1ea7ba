"""Training batches through torch's DataLoader, for many worker processes (a GPU run).

:class:`fewshot_sep.train.batches.BatchStream` sends each finished batch back
through a pipe as pickled numpy arrays; with one or two workers on a CPU run
that costs little. A GPU run needs a dozen workers to keep up, and a batch of
32 episodes is about 50 MB of audio (mixture, target, up to 10 support and 5
negative clips per episode): through one pipe that alone would cap the run.
Here the workers put the batch in shared memory (torch tensors) and only a
handle crosses the process boundary; with ``pin_memory`` the batch is copied
into page-locked memory for a fast, asynchronous copy to the GPU.

The batch of step ``s`` is still ``make(s)``: the same pure function of the
step as in :class:`BatchStream`, delivered in step order, so a run gives the
same batches whichever stream feeds it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class _StepBatches(Dataset):
    """Item ``i`` = the batch of step ``start + i`` as a dict of tensors."""

    def __init__(self, make: Callable[[int], dict[str, np.ndarray]], start: int, stop: int) -> None:
        self.make, self.start, self.stop = make, int(start), int(stop)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        batch = self.make(self.start + int(index))
        return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in batch.items()}


class TensorBatchStream:
    """Batches (dicts of CPU tensors) for steps ``start_step, start_step + 1, ... < max_steps``,
    made ahead by ``workers`` forked processes (at least 1), ``prefetch`` batches each.

    Same interface as :class:`fewshot_sep.train.batches.BatchStream` (``next()``, ``close()``).
    """

    def __init__(self, make: Callable[[int], dict[str, np.ndarray]], start_step: int, workers: int,
                 max_steps: int, prefetch: int = 4, pin_memory: bool = False) -> None:
        if workers < 1:
            raise ValueError(f"TensorBatchStream needs workers >= 1, got {workers}")
        self.loader = DataLoader(_StepBatches(make, start_step, max_steps), batch_size=None, shuffle=False,
                                 num_workers=workers, prefetch_factor=prefetch, pin_memory=pin_memory,
                                 multiprocessing_context="fork")
        self._iter = iter(self.loader)

    def __iter__(self) -> "TensorBatchStream":
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        return next(self._iter)

    def close(self) -> None:
        """Stop the workers."""
        shutdown = getattr(self._iter, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
