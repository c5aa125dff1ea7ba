"""Episodic training of the few-shot separator (and the one-hot baseline).

One training step: a batch of episodes (:mod:`fewshot_sep.train.batches`) ->
mixture STFT -> conditioning vectors (mean support embedding, mean negative
embedding, flag; or the class embedding for the baseline) -> separator mask ->
masked mixture STFT -> iSTFT (project framing, delay ``n_fft - 1``) -> loss
``-SI-SDR + w * |compressed magnitude error|`` against the aligned target.

Resumable: ``checkpoint.pt`` (model, optimiser, step, counters) is written
atomically every few minutes and on interruption; the batch of step s is a
pure function of (config, s), so a resumed run continues exactly where it
stopped. Validation: median SI-SDR improvement over a fixed set of validation
episodes, logged to ``log.csv``; the best model is kept as ``best.pt``. With
``train.ema_decay`` > 0 the validated, logged and kept model is the moving
average of the weights (:mod:`fewshot_sep.train.ema`); the raw weights' score
is logged beside it.
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

from fewshot_sep.model import FewShotModel, build_model
from fewshot_sep.model import stft as S
from fewshot_sep.model.widen import output_difference, widen_state_dict
from fewshot_sep.train.batches import AugmentConfig, BatchStream, make_batch
from fewshot_sep.train.device_augment import finish_batch
from fewshot_sep.runs.checkpoint import (BEST_NAME, CHECKPOINT_NAME, CONFIG_NAME, load_checkpoint, read_checkpoint,
                                          save_checkpoint, save_config)
from fewshot_sep.train.ema import WeightAverage
from fewshot_sep.train.losses import negative_leakage_db, prototype_loss, separation_loss, si_sdr
from fewshot_sep.utils.atomic import write_text_atomic
from fewshot_sep.utils.errors import UserError

LOG_COLUMNS = ["step", "elapsed_s", "episodes", "lr", "train_loss", "train_sisdr", "episodes_per_s",
               "val_sisdri_median", "val_sisdri_mean", "val_episodes", "val_raw_sisdri_median", "data_wait_share",
               "train_leak_db"]
SNAPSHOT_PREFIX = "snapshot-"
LATENCY = S.LATENCY_SAMPLES


# ----------------------------------------------------------------------------- data sources


def train_episode_config(config: dict[str, Any]) -> Any:
    """The training sampler's :class:`~fewshot_sep.data.episodes.EpisodeConfig` of a run config."""
    from fewshot_sep.data.episodes import EpisodeConfig

    data = config["data"]
    return EpisodeConfig(
        splits=("train",), clip_seconds=float(data["clip_seconds"]), support_seconds=float(data["support_seconds"]),
        k_range=tuple(int(v) for v in data["k_range"]), n_interferers=tuple(int(v) for v in data["n_interferers"]),
        coherent_prob=float(data["coherent_prob"]), negative_prob=float(data["negative_prob"]),
        negatives_range=tuple(int(v) for v in data["negatives_range"]),
        confusable=float(data.get("confusable_prob", 0.0)))  # .get: configs saved before the option


def train_augment_config(config: dict[str, Any]) -> AugmentConfig:
    """The timbre augmentation of a run config's ``data.augment`` section (YAML lists as tuples)."""
    return AugmentConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in config["data"]["augment"].items()})


def build_sources(config: dict[str, Any], progress: bool = True) -> tuple[Any, Any]:
    """``(train episode source, validation episode source)`` from the ``data``/``val`` sections.

    For rendered data the validation source is ``None`` when ``val.episodes`` is 0 (no
    validation split needed); the synthetic source always has one."""
    data, val = config["data"], config["val"]
    if data["source"] == "synthetic":
        from fewshot_sep.train.synthetic import SyntheticSampler

        train_src = SyntheticSampler(
            n_instruments=int(data["synthetic_instruments"]), clip_seconds=float(data["clip_seconds"]),
            support_seconds=float(data["support_seconds"]), k_range=tuple(data["k_range"]),
            n_interferers=tuple(data["n_interferers"]), negative_prob=float(data["negative_prob"]),
            negatives_range=tuple(data["negatives_range"]), seed=int(config["seed"]))
        val_src = SyntheticSampler(
            n_instruments=int(data["synthetic_instruments"]), clip_seconds=float(val["clip_seconds"]),
            support_seconds=float(data["support_seconds"]), k_range=(int(val["k"]), int(val["k"])),
            n_interferers=tuple(val["n_interferers"]), negative_prob=0.0, seed=int(val["seed"]))
        return train_src, val_src

    from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler

    root = Path(data["root"])
    if not (root / "manifest.csv").is_file():
        raise UserError(f"data.root {root} has no manifest.csv: render the dataset first "
                        f"(see docs/data.md) or set data.root / data.source: synthetic")
    train_src = EpisodeSampler(root, train_episode_config(config), seed=int(config["seed"]))
    if data["in_memory"]:
        train_src.load_into_memory(progress=progress, cache=bool(data.get("memstore_cache")))
    if float(data.get("production_prob", 0.0)) > 0:
        from fewshot_sep.data.production import ProducedEpisodes

        train_src = ProducedEpisodes(train_src, float(data["production_prob"]), int(config["seed"]))
    if int(val["episodes"]) == 0:
        return train_src, None
    val_cfg = EpisodeConfig(
        splits=("val",), clip_seconds=float(val["clip_seconds"]), support_seconds=3.0,
        k_range=(int(val["k"]), int(val["k"])), n_interferers=tuple(int(v) for v in val["n_interferers"]),
        negative_prob=0.0)
    val_src = EpisodeSampler(root, val_cfg, seed=int(val["seed"]))
    if val.get("production", False):
        from fewshot_sep.data.production import ProducedEpisodes

        val_src = ProducedEpisodes(val_src, 1.0, int(val["seed"]))
    return train_src, val_src


# ----------------------------------------------------------------------------- model step


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


def support_embeddings(model: FewShotModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Embeddings ``[S, E]`` of a batch's support clips (``batch["support"] [S, m]``)."""
    return model.encoder(S.stft(batch["support"]).abs().unsqueeze(1))


def batch_conditioning(model: FewShotModel, batch: dict[str, torch.Tensor],
                       class_index: dict[int, int] | None = None,
                       support_emb: torch.Tensor | None = None) -> torch.Tensor:
    """Conditioning vectors ``[B, 2E + 1]`` of a batch (few-shot or one-hot, per the model).

    ``support_emb [S, E]``: the support clips' embeddings when the caller has
    already computed them (training with the prototype loss), else computed here.
    """
    n_episodes = batch["mixture"].shape[0]
    if model.conditioning_mode == "onehot":
        assert class_index is not None
        ids = [class_index.get(int(label), 0) for label in batch["target_instrument"].tolist()]
        return model.conditioning_for_class(torch.tensor(ids, device=batch["mixture"].device))
    if support_emb is None:
        support_emb = support_embeddings(model, batch)
    positive = _segment_mean(support_emb, batch["support_episode"], n_episodes)
    if batch["negatives"].shape[0] == 0:
        return torch.cat([positive, torch.zeros_like(positive), torch.zeros_like(positive[:, :1])], dim=-1)
    negative_mag = S.stft(batch["negatives"]).abs().unsqueeze(1)
    negative = _segment_mean(model.encoder(negative_mag), batch["negative_episode"], n_episodes)
    flag = batch["has_negatives"].reshape(-1, 1)
    return torch.cat([positive, negative * flag, flag], dim=-1)


def separate_batch(model: FewShotModel, batch: dict[str, torch.Tensor], conditioning: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked mixture: ``(estimate [B, n] delayed by n_fft - 1, estimate spectrum [B, 513, T])``."""
    estimate, est_spec, _ = separate_batch_with_mask(model, batch, conditioning)
    return estimate, est_spec


def separate_batch_with_mask(model: FewShotModel, batch: dict[str, torch.Tensor], conditioning: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`separate_batch` plus the mask ``[B, 513, T]`` it applied."""
    spec = S.stft(batch["mixture"])
    mask = model.separator.aligned_mask(spec.abs().unsqueeze(1), conditioning)[:, 0]
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
    support_emb = None
    if prototype_weight and model.conditioning_mode == "fewshot":
        support_emb = support_embeddings(model, batch)
    conditioning = batch_conditioning(model, batch, class_index, support_emb)
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
    from tqdm import tqdm

    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT_NAME
    if ckpt_path.exists() and not resume:
        raise UserError(f"{run_dir} already holds a checkpoint: pass --resume to continue it, "
                        f"or choose another --run-dir")
    if resume and ckpt_path.exists():
        saved = json.loads((run_dir / CONFIG_NAME).read_text(encoding="utf-8"))
        # Keep the run's own config (model, data and schedule must match); only run-time knobs
        # (data location, threads, batch workers) come from the caller.
        saved["data"]["root"] = config["data"]["root"]
        saved["data"]["workers"] = config["data"]["workers"]
        saved["train"]["threads"] = config["train"]["threads"]
        config = saved
    train_cfg = config["train"]
    max_steps = max_steps if max_steps is not None else train_cfg.get("max_steps")
    max_minutes = max_minutes if max_minutes is not None else train_cfg.get("max_minutes")
    torch.set_num_threads(int(train_cfg["threads"]))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        # TF32 matrix products: ~1e-3 relative error, far below the gradient noise of a batch.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    run_dir.mkdir(parents=True, exist_ok=True)

    train_src, val_src = build_sources(config, progress=progress)
    if config["model"]["conditioning"] == "onehot" and not config["model"].get("classes"):
        config["model"]["classes"] = [int(c) for c in train_src.instrument_ids()]
    class_index = class_rows_of(config["model"])
    save_config(run_dir, config)

    torch.manual_seed(int(config["seed"]))  # reproducible initialisation
    model = build_model(config).to(device)
    model.train()
    optimizer = torch.optim.AdamW(parameter_groups(model, trainable_parameters(model, train_cfg.get("trainable"),
                                                                            train_cfg.get("frozen_norms", "running")),
                                                   train_cfg.get("lr_scale")),
                                  lr=float(train_cfg["lr"]), weight_decay=float(train_cfg["weight_decay"]))
    step, episodes, elapsed, best_val = 0, 0, 0.0, -math.inf
    prototype_weight = float(train_cfg.get("prototype_weight") or 0.0)
    if train_cfg.get("init_from") and not (resume and ckpt_path.exists()):
        initialise_from(model, train_cfg["init_from"])
    log_rows: list[dict[str, Any]] = []
    resumed: dict[str, Any] = {}
    if resume and ckpt_path.exists():
        resumed = read_checkpoint(ckpt_path)
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        step, episodes = int(resumed["step"]), int(resumed["episodes"])
        elapsed, best_val = float(resumed["elapsed_s"]), float(resumed["best_val"])
        log_rows = [r for r in read_log(run_dir / "log.csv") if int(r["step"]) <= step]
    ema_decay = float(train_cfg.get("ema_decay") or 0.0)
    ema = WeightAverage(model, ema_decay) if ema_decay else None
    if ema is not None and "ema" in resumed:  # else the average starts from the current weights
        ema.load_state_dict(resumed["ema"])

    batch_size = int(train_cfg["batch_size"])
    val_cfg = config["val"]
    val_batches = validation_batches(val_src, int(val_cfg["episodes"]), int(val_cfg["batch_size"]), device)

    augment_cfg = train_augment_config(config)
    make = functools.partial(make_batch, train_src, batch_size=batch_size, seed=int(config["seed"]),
                             augment_cfg=augment_cfg)
    total_steps = int(train_cfg["total_steps"])
    stop_step = total_steps if max_steps is None else min(total_steps, step + int(max_steps))
    workers = int(config["data"]["workers"])
    prefetch = 4 if device.type == "cuda" else 3  # batches each worker makes ahead (the two streams)
    # train.schedule_minutes fits total_steps to the time budget once the step rate is known
    # (after warm-up), once per run (a run resumed before its fit fits on resume, with the budget
    # left); until then the batch stream must not stop early.
    schedule_fit = (_ScheduleFit(train_cfg, step, prefetched=workers * prefetch)
                    if train_cfg.get("schedule_minutes") and train_cfg.get("schedule_fitted_at") is None else None)
    stream_stop = 10 ** 9 if schedule_fit is not None else stop_step
    if device.type == "cuda" and workers >= 1:
        from fewshot_sep.train.loader import TensorBatchStream

        stream: Any = TensorBatchStream(make, start_step=step, workers=workers, max_steps=stream_stop,
                                        prefetch=prefetch, pin_memory=True)
    else:
        stream = BatchStream(make, start_step=step, workers=workers, prefetch=prefetch, max_steps=stream_stop)

    def on_term(signum: int, frame: Any) -> None:
        raise _Stop()

    old_term = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
    session_start = time.monotonic()
    last_ckpt = last_val = last_snapshot = time.monotonic()
    acc_loss, acc_sdr, acc_n, acc_t0, acc_eps, acc_wait = 0.0, 0.0, 0, time.monotonic(), 0, 0.0
    acc_leak, acc_leak_n = 0.0, 0.0  # the leakage term: sum (dB) and count of episodes with negatives
    first_loss: float | None = None
    last_loss: float | None = None
    bar = tqdm(total=total_steps, initial=step, unit="step", desc=f"train {config['name']}", disable=not progress,
               mininterval=10.0, dynamic_ncols=True)

    def checkpoint(path: Path, averaged: bool = False) -> None:
        """``checkpoint.pt`` (``averaged=False``): the raw weights in ``model``, the average
        in ``ema``; ``best.pt`` of an EMA run (``averaged=True``): the average as ``model``."""
        payload = {
            "model": (ema.model if averaged else model).state_dict(), "optimizer": optimizer.state_dict(),
            "step": step, "episodes": episodes, "elapsed_s": elapsed + (time.monotonic() - session_start),
            "best_val": best_val, "format_version": 1,
        }
        if ema is not None and not averaged:
            payload["ema"] = ema.state_dict()
        save_checkpoint(path, payload)

    def snapshot() -> None:
        """Keep the validated weights (the average in an EMA run) as ``snapshot-<step>.pt``."""
        save_checkpoint(run_dir / f"{SNAPSHOT_PREFIX}{step:07d}.pt", {
            "model": (ema.model if ema is not None else model).state_dict(), "step": step, "episodes": episodes,
            "elapsed_s": elapsed + (time.monotonic() - session_start), "format_version": 1})
        for old in sorted(run_dir.glob(f"{SNAPSHOT_PREFIX}*.pt"))[:-int(train_cfg["max_snapshots"])]:
            old.unlink()

    def validate() -> float:
        nonlocal best_val
        if not val_batches:  # val.episodes: 0
            return float("nan")
        scores = evaluate(ema.model if ema is not None else model, val_batches, class_index)
        median = float(np.median(scores)) if len(scores) else float("nan")
        row = {"step": step, "elapsed_s": round(elapsed + time.monotonic() - session_start, 1),
               "episodes": episodes, "val_sisdri_median": round(median, 3),
               "val_sisdri_mean": round(float(np.mean(scores)), 3), "val_episodes": len(scores)}
        if ema is not None:
            row["val_raw_sisdri_median"] = round(float(np.median(evaluate(model, val_batches, class_index))), 3)
        log_rows.append(row)
        if median > best_val:
            best_val = median
            checkpoint(run_dir / BEST_NAME, averaged=ema is not None)
        _write_log(run_dir / "log.csv", log_rows)
        return median

    interrupted = False
    try:
        if step == 0:
            validate()
        while step < stop_step:
            if max_minutes is not None and time.monotonic() - session_start > 60.0 * float(max_minutes):
                break
            wait_start = time.monotonic()
            batch = to_tensors(next(stream), device)
            acc_wait += time.monotonic() - wait_start
            if augment_cfg.enabled and augment_cfg.on_device:  # not counted as data wait: device work
                batch = finish_batch(batch, augment_cfg)
            lr = learning_rate(step, train_cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            parts: dict[str, torch.Tensor] = {}
            loss, sdr = batch_loss(model, batch, train_cfg, class_index, prototype_weight, parts)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(train_cfg["grad_clip"]))
            optimizer.step()
            if ema is not None:
                ema.update(model)
            step += 1
            episodes += batch_size
            bar.update(1)
            value = float(loss.detach())
            first_loss = value if first_loss is None else first_loss
            acc_loss += value
            acc_sdr += float(sdr.mean())
            acc_n += 1
            acc_eps += batch_size
            if parts:  # the leakage term, averaged over the window's episodes with negatives
                acc_leak += float(parts["leak_db"])
                acc_leak_n += float(parts["leak_episodes"])
            if step % int(train_cfg["log_every"]) == 0:
                now = time.monotonic()
                last_loss = acc_loss / acc_n
                log_rows.append({"step": step, "elapsed_s": round(elapsed + now - session_start, 1),
                                 "episodes": episodes, "lr": f"{lr:.3g}", "train_loss": round(last_loss, 4),
                                 "train_sisdr": round(acc_sdr / acc_n, 3),
                                 "episodes_per_s": round(acc_eps / max(now - acc_t0, 1e-9), 2),
                                 "data_wait_share": round(acc_wait / max(now - acc_t0, 1e-9), 3),
                                 "train_leak_db": round(acc_leak / acc_leak_n, 3) if acc_leak_n else None})
                _write_log(run_dir / "log.csv", log_rows)
                bar.set_postfix(loss=f"{last_loss:.3f}", sisdr=f"{acc_sdr / acc_n:.2f}", best=f"{best_val:.2f}")
                acc_loss, acc_sdr, acc_n, acc_t0, acc_eps, acc_wait = 0.0, 0.0, 0, now, 0, 0.0
                acc_leak, acc_leak_n = 0.0, 0.0
            if schedule_fit is not None and schedule_fit.ready(step):
                total_steps = schedule_fit.fit(step, elapsed + time.monotonic() - session_start)
                stop_step = total_steps if max_steps is None else min(total_steps, stop_step)
                bar.total = total_steps
                save_config(run_dir, config)
                print(f"train.schedule_minutes {train_cfg['schedule_minutes']}: {schedule_fit.rate:.2f} steps/s, "
                      f"total_steps set to {total_steps}")
                schedule_fit = None
            every_steps = int(val_cfg["every_steps"])
            if (every_steps and step % every_steps == 0) or (
                    not every_steps and time.monotonic() - last_val > 60.0 * float(val_cfg["every_minutes"])):
                validate()
                last_val = time.monotonic()
            if time.monotonic() - last_ckpt > 60.0 * float(train_cfg["checkpoint_minutes"]):
                checkpoint(ckpt_path)
                last_ckpt = time.monotonic()
            if train_cfg.get("snapshot_minutes") and (
                    time.monotonic() - last_snapshot > 60.0 * float(train_cfg["snapshot_minutes"])):
                snapshot()
                last_snapshot = time.monotonic()
    except (KeyboardInterrupt, _Stop):
        interrupted = True
    finally:
        stream.close()
        bar.close()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    if not interrupted and not (log_rows and int(log_rows[-1]["step"]) == step
                                and log_rows[-1].get("val_sisdri_median") not in (None, "")):
        validate()
    checkpoint(ckpt_path)
    if train_cfg.get("snapshot_minutes"):
        snapshot()
    if not val_batches and progress:
        print(f"no validation (val.episodes: 0), so no {BEST_NAME}: {CHECKPOINT_NAME} holds the raw weights"
              + (" and their average; the snapshots hold the average" if ema is not None else "")
              + " (scripts/validate_snapshots.py picks and publishes one)")
    if acc_n:
        last_loss = acc_loss / acc_n
    return {"step": step, "episodes": episodes, "best_val_sisdri": best_val, "first_loss": first_loss,
            "last_loss": last_loss, "interrupted": interrupted, "run_dir": str(run_dir)}


def trainable_parameters(model: FewShotModel, prefixes: list[str] | None,
                         frozen_norms: str = "running") -> list[torch.nn.Parameter]:
    """The parameters a run trains: all of them, or (``train.trainable``) those whose names
    start with one of ``prefixes``; the others are frozen (``requires_grad = False``), and
    so is every batch norm whose weights are frozen: it keeps its running statistics
    (momentum 0) and, with ``frozen_norms="running"`` (``train.frozen_norms``, the default),
    normalises with them in training too, so a run that trains only part of the model (the
    conditioning path, a refiner) leaves the rest of the separator exactly as it started and
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


class OffsetSource:
    """View of an episode source shifted by ``offset``: batch ``make_batch(OffsetSource(src, n), 0, b, seed)``
    holds episodes ``n .. n + b - 1`` (validation batches of fixed episodes)."""

    def __init__(self, source: Any, offset: int) -> None:
        self.source, self.offset = source, offset

    def episode(self, index: int) -> Any:
        return self.source.episode(self.offset + index)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
