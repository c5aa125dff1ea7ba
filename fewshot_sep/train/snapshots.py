"""Score saved checkpoints on a run config's fixed validation episodes, and publish the best.

What `fewshot-sep validate-checkpoints` runs: the snapshots of a run trained elsewhere
(a lent GPU with ``val.episodes: 0``), or checkpoints of several runs, are scored as the
trainer would have scored them (median SI-SDR improvement in dB on the config's ``val``
episodes), so the figures compare with the ``val_sisdri_median`` column of run logs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from fewshot_sep.runs.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint, save_config
from fewshot_sep.runs.config import load_config
from fewshot_sep.train.sources import build_sources
from fewshot_sep.train.step import class_rows_of, evaluate, validation_batches
from fewshot_sep.utils.errors import UserError


@dataclass(frozen=True)
class CheckpointScore:
    """One checkpoint's validation figures (SI-SDR improvement, dB)."""

    path: Path
    step: int | str
    median_db: float
    mean_db: float


def validate_checkpoints(paths: Sequence[Path], config_path: Path, data_root: Path, episodes: int | None = None,
                         on_score: Callable[[CheckpointScore], None] | None = None,
                         on_note: Callable[[str], None] | None = None) -> list[CheckpointScore]:
    """Score each checkpoint in `paths` (each with its run's config.json beside it) on the fixed
    validation episodes of `config_path`'s ``val`` section, read from `data_root`'s val split.

    `episodes` overrides ``val.episodes``. `on_score` is called as each checkpoint is done
    (long runs show progress), `on_note` with one line about the episodes built.
    """
    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"checkpoint {path} does not exist: give .pt files with their run's config.json beside them")
    if not Path(config_path).is_file():
        raise UserError(f"run config {config_path} does not exist: give the config whose val section defines "
                        "the episodes with --config")
    config = load_config(config_path)
    config["data"]["root"] = str(data_root)
    config["data"]["in_memory"] = False  # only the val episodes are read
    config["data"]["memstore_cache"] = False
    if episodes is not None:
        config["val"]["episodes"] = episodes
    n_val, batch_size = int(config["val"]["episodes"]), int(config["val"]["batch_size"])
    if n_val < 1:
        raise UserError(f"val.episodes is {n_val}: give --episodes N (N >= 1)")
    _, val_source = build_sources(config, progress=False)
    started = time.monotonic()
    batches = validation_batches(val_source, n_val, batch_size, torch.device("cpu"))
    if on_note is not None:
        on_note(f"{n_val} validation episodes of {data_root} ({Path(config_path).name}) "
                f"in {time.monotonic() - started:.0f} s")
    scores = []
    for path in paths:
        model, model_config = load_checkpoint(path)
        if getattr(model.separator, "stereo_input", False) and not config["model"].get("stereo_input", False):
            # the episodes would be mono (downmixed): the checkpoint's second input would read nothing
            raise UserError(f"{path} reads both channels (model.stereo_input) but {config_path} builds mono "
                            "validation episodes: give the stereo run's config with --config")
        class_index = class_rows_of(model_config["model"])
        if model.conditioning_mode == "onehot" and class_index is None:
            raise UserError(f"{path}: a one-hot checkpoint needs model.classes in the config.json beside it")
        values = evaluate(model, batches, class_index)
        score = CheckpointScore(Path(path), read_checkpoint(path).get("step", ""), float(np.median(values)),
                                float(np.mean(values)))
        scores.append(score)
        if on_score is not None:
            on_score(score)
    return scores


def publish_checkpoint(score: CheckpointScore, destination: Path) -> None:
    """Publish `score`'s checkpoint to `destination` as ``fewshot-sep train --publish`` would:
    checkpoint.pt without the optimiser state (its median as ``best_val``) and the run's config.json."""
    payload = {k: v for k, v in read_checkpoint(score.path).items() if k != "optimizer"}
    payload["source"] = score.path.name
    payload["best_val"] = score.median_db
    destination.mkdir(parents=True, exist_ok=True)
    save_checkpoint(destination / "checkpoint.pt", payload)
    save_config(destination, json.loads((score.path.parent / "config.json").read_text(encoding="utf-8")))
