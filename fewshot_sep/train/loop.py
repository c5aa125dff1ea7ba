"""Episodic training of the few-shot separator (and the one-hot baseline).

One training step: a batch of episodes (:mod:`fewshot_sep.train.batches`) ->
mixture STFT -> conditioning vectors (mean support embedding, mean negative
embedding, flag; or the class embedding for the baseline) -> separator mask ->
masked mixture STFT -> iSTFT (project framing, delay ``n_fft - 1``) -> loss
``-SI-SDR + w * |compressed magnitude error|`` against the aligned target
(:mod:`fewshot_sep.train.step`).

Resumable: ``checkpoint.pt`` (model, optimiser, step, counters) is written
atomically every few minutes and on interruption; the batch of step s is a
pure function of (config, s), so a resumed run continues exactly where it
stopped. Validation: median SI-SDR improvement over a fixed set of validation
episodes, logged to ``log.csv``; the best model is kept as ``best.pt``. With
``train.ema_decay`` > 0 the validated, logged and kept model is the moving
average of the weights (:mod:`fewshot_sep.train.ema`); the raw weights' score
is logged beside it.

The parts: :mod:`~fewshot_sep.train.sources` (episode sources of a config),
:mod:`~fewshot_sep.train.step` (the model work of a step, validation scores),
:mod:`~fewshot_sep.train.parameters` (what is trained, optimiser groups, warm
starts) and this module (the loop: set-up, steps, logging, validation,
checkpoints). Their names stay importable from here.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fewshot_sep.model import build_model
from fewshot_sep.train.batches import BatchStream, make_batch
from fewshot_sep.train.device_augment import finish_batch
from fewshot_sep.runs.checkpoint import (BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, read_checkpoint,
                                         save_checkpoint, save_config)
from fewshot_sep.train.ema import WeightAverage
from fewshot_sep.train.parameters import initialise_from, parameter_groups, trainable_parameters
from fewshot_sep.train.sources import build_sources, train_augment_config, train_episode_config
from fewshot_sep.train.step import (LATENCY, OffsetSource, batch_conditioning, batch_loss, class_rows_of, evaluate,
                                    learning_rate, separate_batch, separate_batch_with_mask, support_embeddings,
                                    to_tensors, validation_batches)
from fewshot_sep.utils.atomic import write_text_atomic
from fewshot_sep.utils.errors import UserError

__all__ = [  # the loop's own names, then those of its parts, importable from here as before the split
    "train", "run_config", "read_log", "LOG_COLUMNS", "SNAPSHOT_PREFIX",
    "build_model", "initialise_from", "parameter_groups", "trainable_parameters",
    "build_sources", "train_augment_config", "train_episode_config",
    "LATENCY", "OffsetSource", "batch_conditioning", "batch_loss", "class_rows_of", "evaluate", "learning_rate",
    "separate_batch", "separate_batch_with_mask", "support_embeddings", "to_tensors", "validation_batches",
]

LOG_COLUMNS = ["step", "elapsed_s", "episodes", "lr", "train_loss", "train_sisdr", "episodes_per_s",
               "val_sisdri_median", "val_sisdri_mean", "val_episodes", "val_raw_sisdri_median", "data_wait_share",
               "train_leak_db"]
SNAPSHOT_PREFIX = "snapshot-"


# ----------------------------------------------------------------------------- log


def _write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    lines = [",".join(LOG_COLUMNS)]
    for row in rows:
        lines.append(",".join("" if row.get(c) is None else str(row.get(c)) for c in LOG_COLUMNS))
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_log(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a run's ``log.csv`` (strings; empty for missing values)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- main loop


class _Stop(Exception):
    pass


def train(config: dict[str, Any], run_dir: str | os.PathLike, resume: bool = False,
          max_steps: int | None = None, max_minutes: float | None = None, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the model of ``config`` in ``run_dir``; returns a summary dict.

    Stops at ``train.total_steps``, after ``max_steps`` more steps or ``max_minutes``
    (arguments override ``train.max_steps``/``train.max_minutes``), or on SIGINT/SIGTERM,
    always leaving a fresh ``checkpoint.pt``.
    """
    run_dir = Path(run_dir)
    config, resuming = run_config(config, run_dir, resume)
    return _Session(config, run_dir, resuming, max_steps, max_minutes, progress).run()


def run_config(config: dict[str, Any], run_dir: Path, resume: bool) -> tuple[dict[str, Any], bool]:
    """``(the config to train with, whether a checkpoint is resumed)``.

    A resumed run keeps its own ``config.json`` (model, data and schedule must match); only
    run-time knobs (data location, threads, batch workers) come from ``config``.
    """
    ckpt_path = run_dir / CHECKPOINT_NAME
    if ckpt_path.exists() and not resume:
        raise UserError(f"{run_dir} already holds a checkpoint: pass --resume to continue it, "
                        f"or choose another --run-dir")
    if not (resume and ckpt_path.exists()):
        return config, False
    saved = json.loads((run_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    saved["data"]["root"] = config["data"]["root"]
    saved["data"]["workers"] = config["data"]["workers"]
    saved["train"]["threads"] = config["train"]["threads"]
    return saved, True


def _device(train_cfg: dict[str, Any]) -> torch.device:
    torch.set_num_threads(int(train_cfg["threads"]))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        # TF32 matrix products: ~1e-3 relative error, far below the gradient noise of a batch.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


class _Window:
    """Training figures summed over the steps since the last log row."""

    def __init__(self) -> None:
        self.reset(time.monotonic())

    def reset(self, now: float) -> None:
        self.loss, self.sdr, self.n, self.t0, self.episodes, self.wait = 0.0, 0.0, 0, now, 0, 0.0
        self.leak, self.leak_n = 0.0, 0.0  # the leakage term: sum (dB) and count of episodes with negatives

    def add(self, loss: float, sdr: float, episodes: int, parts: dict[str, torch.Tensor]) -> None:
        self.loss += loss
        self.sdr += sdr
        self.n += 1
        self.episodes += episodes
        if parts:  # the leakage term, averaged over the window's episodes with negatives
            self.leak += float(parts["leak_db"])
            self.leak_n += float(parts["leak_episodes"])

    def row(self, now: float) -> dict[str, Any]:
        """The window's columns of a log row."""
        return {"train_loss": round(self.loss / self.n, 4), "train_sisdr": round(self.sdr / self.n, 3),
                "episodes_per_s": round(self.episodes / max(now - self.t0, 1e-9), 2),
                "data_wait_share": round(self.wait / max(now - self.t0, 1e-9), 3),
                "train_leak_db": round(self.leak / self.leak_n, 3) if self.leak_n else None}


class _Session:
    """One session of a training run: set-up, the loop, validation, checkpoints, the summary."""

    def __init__(self, config: dict[str, Any], run_dir: Path, resuming: bool, max_steps: int | None,
                 max_minutes: float | None, progress: bool) -> None:
        self.config, self.run_dir, self.progress = config, run_dir, progress
        self.train_cfg = train_cfg = config["train"]
        self.val_cfg = config["val"]
        self.ckpt_path = run_dir / CHECKPOINT_NAME
        self.max_steps = max_steps if max_steps is not None else train_cfg.get("max_steps")
        self.max_minutes = max_minutes if max_minutes is not None else train_cfg.get("max_minutes")
        self.device = _device(train_cfg)
        run_dir.mkdir(parents=True, exist_ok=True)

        self.train_src, val_src = build_sources(config, progress=progress)
        if config["model"]["conditioning"] == "onehot" and not config["model"].get("classes"):
            config["model"]["classes"] = [int(c) for c in self.train_src.instrument_ids()]
        self.class_index = class_rows_of(config["model"])
        save_config(run_dir, config)
        self._model_and_state(resuming)
        self.batch_size = int(train_cfg["batch_size"])
        self.val_batches = validation_batches(val_src, int(self.val_cfg["episodes"]), int(self.val_cfg["batch_size"]),
                                              self.device)
        self._batch_stream()

    def _model_and_state(self, resuming: bool) -> None:
        """The model, optimiser and weight average, and the counters: fresh, warm-started or resumed."""
        train_cfg = self.train_cfg
        torch.manual_seed(int(self.config["seed"]))  # reproducible initialisation
        self.model = model = build_model(self.config).to(self.device)
        model.train()
        trained = trainable_parameters(model, train_cfg.get("trainable"), train_cfg.get("frozen_norms", "running"))
        self.optimizer = torch.optim.AdamW(parameter_groups(model, trained, train_cfg.get("lr_scale")),
                                           lr=float(train_cfg["lr"]), weight_decay=float(train_cfg["weight_decay"]))
        self.step, self.episodes, self.elapsed, self.best_val = 0, 0, 0.0, -math.inf
        self.prototype_weight = float(train_cfg.get("prototype_weight") or 0.0)
        if train_cfg.get("init_from") and not resuming:
            initialise_from(model, train_cfg["init_from"])
        self.log_rows: list[dict[str, Any]] = []
        resumed: dict[str, Any] = {}
        if resuming:
            resumed = read_checkpoint(self.ckpt_path)
            model.load_state_dict(resumed["model"])
            self.optimizer.load_state_dict(resumed["optimizer"])
            self.step, self.episodes = int(resumed["step"]), int(resumed["episodes"])
            self.elapsed, self.best_val = float(resumed["elapsed_s"]), float(resumed["best_val"])
            self.log_rows = [r for r in read_log(self.run_dir / "log.csv") if int(r["step"]) <= self.step]
        ema_decay = float(train_cfg.get("ema_decay") or 0.0)
        self.ema = WeightAverage(model, ema_decay) if ema_decay else None
        if self.ema is not None and "ema" in resumed:  # else the average starts from the current weights
            self.ema.load_state_dict(resumed["ema"])

    def _batch_stream(self) -> None:
        """The training batches from the current step on, made ahead by worker processes."""
        train_cfg, config = self.train_cfg, self.config
        self.augment_cfg = train_augment_config(config)
        make = functools.partial(make_batch, self.train_src, batch_size=self.batch_size, seed=int(config["seed"]),
                                 augment_cfg=self.augment_cfg)
        self.total_steps = int(train_cfg["total_steps"])
        self.stop_step = (self.total_steps if self.max_steps is None
                          else min(self.total_steps, self.step + int(self.max_steps)))
        workers = int(config["data"]["workers"])
        prefetch = 4 if self.device.type == "cuda" else 3  # batches each worker makes ahead (the two streams)
        # train.schedule_minutes fits total_steps to the time budget once the step rate is known
        # (after warm-up), once per run (a run resumed before its fit fits on resume, with the budget
        # left); until then the batch stream must not stop early.
        self.schedule_fit = (_ScheduleFit(train_cfg, self.step, prefetched=workers * prefetch)
                             if train_cfg.get("schedule_minutes") and train_cfg.get("schedule_fitted_at") is None
                             else None)
        stream_stop = 10 ** 9 if self.schedule_fit is not None else self.stop_step
        if self.device.type == "cuda" and workers >= 1:
            from fewshot_sep.train.loader import TensorBatchStream

            self.stream: Any = TensorBatchStream(make, start_step=self.step, workers=workers, max_steps=stream_stop,
                                                 prefetch=prefetch, pin_memory=True)
        else:
            self.stream = BatchStream(make, start_step=self.step, workers=workers, prefetch=prefetch,
                                      max_steps=stream_stop)

    # -- what a session writes ------------------------------------------------------------
    def _elapsed(self) -> float:
        return self.elapsed + (time.monotonic() - self.session_start)

    def checkpoint(self, path: Path, averaged: bool = False) -> None:
        """``checkpoint.pt`` (``averaged=False``): the raw weights in ``model``, the average
        in ``ema``; ``best.pt`` of an EMA run (``averaged=True``): the average as ``model``."""
        ema = self.ema
        payload = {
            "model": (ema.model if averaged else self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
            "step": self.step, "episodes": self.episodes, "elapsed_s": self._elapsed(),
            "best_val": self.best_val, "format_version": 1,
        }
        if ema is not None and not averaged:
            payload["ema"] = ema.state_dict()
        save_checkpoint(path, payload)

    def snapshot(self) -> None:
        """Keep the validated weights (the average in an EMA run) as ``snapshot-<step>.pt``."""
        save_checkpoint(self.run_dir / f"{SNAPSHOT_PREFIX}{self.step:07d}.pt", {
            "model": (self.ema.model if self.ema is not None else self.model).state_dict(), "step": self.step,
            "episodes": self.episodes, "elapsed_s": self._elapsed(), "format_version": 1})
        for old in sorted(self.run_dir.glob(f"{SNAPSHOT_PREFIX}*.pt"))[:-int(self.train_cfg["max_snapshots"])]:
            old.unlink()

    def validate(self) -> float:
        if not self.val_batches:  # val.episodes: 0
            return float("nan")
        ema, model = self.ema, self.model
        scores = evaluate(ema.model if ema is not None else model, self.val_batches, self.class_index)
        median = float(np.median(scores)) if len(scores) else float("nan")
        row = {"step": self.step, "elapsed_s": round(self._elapsed(), 1),
               "episodes": self.episodes, "val_sisdri_median": round(median, 3),
               "val_sisdri_mean": round(float(np.mean(scores)), 3), "val_episodes": len(scores)}
        if ema is not None:
            row["val_raw_sisdri_median"] = round(float(np.median(evaluate(model, self.val_batches,
                                                                          self.class_index))), 3)
        self.log_rows.append(row)
        if median > self.best_val:
            self.best_val = median
            self.checkpoint(self.run_dir / BEST_NAME, averaged=ema is not None)
        _write_log(self.run_dir / "log.csv", self.log_rows)
        return median

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Train until a stop (see `train`); returns the summary."""
        from tqdm import tqdm

        def on_term(signum: int, frame: Any) -> None:
            raise _Stop()

        old_term = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
        self.session_start = time.monotonic()
        self.last_ckpt = self.last_val = self.last_snapshot = time.monotonic()
        self.window = _Window()
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.bar = tqdm(total=self.total_steps, initial=self.step, unit="step", desc=f"train {self.config['name']}",
                        disable=not self.progress, mininterval=10.0, dynamic_ncols=True)
        interrupted = False
        try:
            if self.step == 0:
                self.validate()
            while self.step < self.stop_step:
                if self.max_minutes is not None and time.monotonic() - self.session_start > 60.0 * float(
                        self.max_minutes):
                    break
                self._step()
                self._after_step()
        except (KeyboardInterrupt, _Stop):
            interrupted = True
        finally:
            self.stream.close()
            self.bar.close()
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)
        return self._finish(interrupted)

    def _step(self) -> None:
        """One optimiser step on the next batch; its figures go into the window."""
        wait_start = time.monotonic()
        batch = to_tensors(next(self.stream), self.device)
        self.window.wait += time.monotonic() - wait_start
        if self.augment_cfg.enabled and self.augment_cfg.on_device:  # not counted as data wait: device work
            batch = finish_batch(batch, self.augment_cfg)
        self.lr = lr = learning_rate(self.step, self.train_cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        parts: dict[str, torch.Tensor] = {}
        loss, sdr = batch_loss(self.model, batch, self.train_cfg, self.class_index, self.prototype_weight, parts)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(self.train_cfg["grad_clip"]))
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        self.episodes += self.batch_size
        self.bar.update(1)
        value = float(loss.detach())
        self.first_loss = value if self.first_loss is None else self.first_loss
        self.window.add(value, float(sdr.mean()), self.batch_size, parts)

    def _after_step(self) -> None:
        """The log row, the schedule fit, validation, checkpoint and snapshot, each when due."""
        train_cfg, window = self.train_cfg, self.window
        if self.step % int(train_cfg["log_every"]) == 0:
            now = time.monotonic()
            self.last_loss = window.loss / window.n
            self.log_rows.append({"step": self.step, "elapsed_s": round(self.elapsed + now - self.session_start, 1),
                                  "episodes": self.episodes, "lr": f"{self.lr:.3g}", **window.row(now)})
            _write_log(self.run_dir / "log.csv", self.log_rows)
            self.bar.set_postfix(loss=f"{self.last_loss:.3f}", sisdr=f"{window.sdr / window.n:.2f}",
                                 best=f"{self.best_val:.2f}")
            window.reset(now)
        if self.schedule_fit is not None and self.schedule_fit.ready(self.step):
            self.total_steps = self.schedule_fit.fit(self.step, self._elapsed())
            self.stop_step = self.total_steps if self.max_steps is None else min(self.total_steps, self.stop_step)
            self.bar.total = self.total_steps
            save_config(self.run_dir, self.config)
            print(f"train.schedule_minutes {train_cfg['schedule_minutes']}: {self.schedule_fit.rate:.2f} steps/s, "
                  f"total_steps set to {self.total_steps}")
            self.schedule_fit = None
        every_steps = int(self.val_cfg["every_steps"])
        if (every_steps and self.step % every_steps == 0) or (
                not every_steps and time.monotonic() - self.last_val > 60.0 * float(self.val_cfg["every_minutes"])):
            self.validate()
            self.last_val = time.monotonic()
        if time.monotonic() - self.last_ckpt > 60.0 * float(train_cfg["checkpoint_minutes"]):
            self.checkpoint(self.ckpt_path)
            self.last_ckpt = time.monotonic()
        if train_cfg.get("snapshot_minutes") and (
                time.monotonic() - self.last_snapshot > 60.0 * float(train_cfg["snapshot_minutes"])):
            self.snapshot()
            self.last_snapshot = time.monotonic()

    def _finish(self, interrupted: bool) -> dict[str, Any]:
        """Validate the last step (unless interrupted or done), checkpoint, snapshot; the summary."""
        log_rows, step = self.log_rows, self.step
        if not interrupted and not (log_rows and int(log_rows[-1]["step"]) == step
                                    and log_rows[-1].get("val_sisdri_median") not in (None, "")):
            self.validate()
        self.checkpoint(self.ckpt_path)
        if self.train_cfg.get("snapshot_minutes"):
            self.snapshot()
        if not self.val_batches and self.progress:
            print(f"no validation (val.episodes: 0), so no {BEST_NAME}: {CHECKPOINT_NAME} holds the raw weights"
                  + (" and their average; the snapshots hold the average" if self.ema is not None else "")
                  + " (`fewshot-sep validate-checkpoints` picks and publishes one)")
        if self.window.n:
            self.last_loss = self.window.loss / self.window.n
        return {"step": step, "episodes": self.episodes, "best_val_sisdri": self.best_val,
                "first_loss": self.first_loss, "last_loss": self.last_loss, "interrupted": interrupted,
                "run_dir": str(self.run_dir)}


class _ScheduleFit:
    """``train.schedule_minutes``: measure the step rate after warm-up, then set
    ``train_cfg["total_steps"]`` so the cosine schedule ends when the budget does.

    The rate is taken from the 10th step after the batches made ahead during start-up
    (worker processes, CUDA kernels) to the end of warm-up, over 50 steps at least;
    the budget counts from the start of the training loop. Validations in between count
    against the budget but not the rate, so keep them rare in such a run."""

    def __init__(self, train_cfg: dict[str, Any], step: int, prefetched: int = 0) -> None:
        self.train_cfg = train_cfg
        # Batches made ahead while the run started would inflate the rate: skip past them.
        self.t0_step = step + 10 + prefetched
        self.fit_step = max(step + int(train_cfg["warmup_steps"]), self.t0_step + 50)
        self.t0: float | None = None
        self.rate = 0.0

    def ready(self, step: int) -> bool:
        if step == self.t0_step:
            self.t0 = time.monotonic()
        return step >= self.fit_step and self.t0 is not None

    def fit(self, step: int, elapsed_s: float) -> int:
        """Set and return ``total_steps``; ``elapsed_s``: the run's training time so far
        (earlier sessions of a resumed run included)."""
        assert self.t0 is not None
        self.rate = (step - self.t0_step) / max(time.monotonic() - self.t0, 1e-9)
        remaining = 60.0 * float(self.train_cfg["schedule_minutes"]) - elapsed_s
        total = step + max(1, int(self.rate * remaining))
        self.train_cfg["total_steps"] = total
        self.train_cfg["schedule_fitted_at"] = step
        return total


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
