"""What to export: a trained checkpoint (run folder or file) or, for plumbing, a config.

Also turns the checkpoint and its run's ``log.csv`` into the card's free-form
``training`` section (steps, best and last validation SI-SDRi, run name).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fewshot_sep.utils.errors import UserError

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
# Plain numbers a checkpoint may carry at its top level (fewshot_sep.train.loop writes these).
CHECKPOINT_NUMBERS = ("step", "episodes", "elapsed_s", "best_val")


@dataclass
class ExportSource:
    """A model ready to export, with its config and what the card says about its training."""

    model: torch.nn.Module
    config: dict[str, Any]
    name: str
    training: dict[str, Any]


def read_config_file(path: Path) -> dict[str, Any]:
    """A run config (YAML, or JSON such as a run's ``config.json``) resolved against the training defaults."""
    from fewshot_sep.runs.config import load_config, resolve_config

    if path.suffix.lower() not in CONFIG_SUFFIXES:
        raise UserError(f"config {path} must be a .yaml, .yml or .json file")
    if path.suffix.lower() != ".json":
        return load_config(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"config {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise UserError(f"config {path} must hold a JSON object with sections data/val/model/train")
    return resolve_config(raw)


def _finite(value: Any) -> float | int | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


def _read_log(log_file: Path) -> list[dict[str, str]]:
    try:
        with open(log_file, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def training_summary(config: dict[str, Any], checkpoint_file: Path | None, run_dir: Path | None) -> dict[str, Any]:
    """The card's ``training`` section.

    Keys (each only when known): ``status`` ("trained"), ``run`` (config name),
    ``checkpoint`` (file name), ``step``, ``episodes``, ``elapsed_s``,
    ``best_val_sisdri_median_db``, ``total_steps`` (planned), ``data_source``,
    ``conditioning``, ``last_validation`` (the last log row with validation values, up to the
    checkpoint's step).
    """
    summary: dict[str, Any] = {"status": "trained"}
    if isinstance(config.get("name"), str):
        summary["run"] = config["name"]
    if checkpoint_file is not None:
        summary["checkpoint"] = checkpoint_file.name
        try:
            payload = torch.load(checkpoint_file, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - the weights already loaded; the summary is best effort
            payload = {}
        if isinstance(payload, dict):
            for key in CHECKPOINT_NUMBERS:
                value = _finite(payload.get(key))
                if value is not None:
                    summary["best_val_sisdri_median_db" if key == "best_val" else key] = value
    train_cfg = config.get("train") if isinstance(config.get("train"), dict) else {}
    if _finite(train_cfg.get("total_steps")) is not None:
        summary["total_steps"] = train_cfg["total_steps"]
    data_cfg = config.get("data") if isinstance(config.get("data"), dict) else {}
    if isinstance(data_cfg.get("source"), str):
        summary["data_source"] = data_cfg["source"]
    model_cfg = config.get("model") if isinstance(config.get("model"), dict) else {}
    if isinstance(model_cfg.get("conditioning"), str):
        summary["conditioning"] = model_cfg["conditioning"]
    if run_dir is not None:
        # The log runs on past the checkpoint (best.pt is older): only rows up to its step.
        last_step = summary.get("step")
        for row in reversed(_read_log(run_dir / "log.csv")):
            val = {k: _finite(_to_number(v)) for k, v in row.items() if k and (k.startswith("val") or k == "step")}
            val = {k: v for k, v in val.items() if v is not None}
            if last_step is not None and val.get("step", 0) > last_step:
                continue
            if any(k.startswith("val") for k in val):
                summary["last_validation"] = val
                break
    return summary


def _to_number(text: Any) -> float | int | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return int(value) if value.is_integer() else value


def checkpoint_file_of(path: Path, which: str = "best") -> Path | None:
    """The file ``fewshot_sep.runs.checkpoint.load_checkpoint`` reads for ``path`` (best.pt before checkpoint.pt)."""
    from fewshot_sep.runs.checkpoint import BEST_NAME, CHECKPOINT_NAME

    if path.is_file():
        return path
    for name in ((BEST_NAME, CHECKPOINT_NAME) if which == "best" else (CHECKPOINT_NAME,)):
        if (path / name).is_file():
            return path / name
    return None


def load_source(path: Path, untrained: bool = False, seed: int = 0, which: str = "best") -> ExportSource:
    """Load the model to export.

    Args:
        path: a run folder or checkpoint file (``fewshot_sep.runs.checkpoint.load_checkpoint``),
            or with ``untrained`` a config file.
        untrained: build a randomly initialised model from the config ``path``.
        seed: torch seed of the random weights (``untrained`` only).
        which: for a run folder, "best" (``best.pt`` if present) or "latest" (``checkpoint.pt``).
    """
    if untrained:
        if path.is_dir() or path.suffix.lower() not in CONFIG_SUFFIXES:
            raise UserError(f"--untrained needs a config file (.yaml/.json), got {path}")
        config = read_config_file(path)
        from fewshot_sep.model import build_model

        torch.manual_seed(seed)
        model = build_model(config)
        return ExportSource(model=model.eval(), config=config, name=f"{config.get('name', path.stem)}-untrained",
                            training={"status": "untrained", "config": path.name, "seed": seed})
    if not path.exists():
        raise UserError(f"checkpoint {path} does not exist: give a training run folder or its checkpoint file")
    if path.is_file() and path.suffix.lower() in CONFIG_SUFFIXES:
        raise UserError(f"{path} is a config file, not a checkpoint: pass a run folder or a .pt file "
                        "(or add --untrained to export random weights built from this config)")
    checkpoint_file = checkpoint_file_of(path, which)
    if checkpoint_file is None:
        raise UserError(f"run folder {path} holds no checkpoint (best.pt / checkpoint.pt): train first, "
                        "or wait for the first checkpoint")
    from fewshot_sep.runs.checkpoint import load_checkpoint

    model, config = load_checkpoint(checkpoint_file)
    run_dir = checkpoint_file.parent
    name = config.get("name") if isinstance(config.get("name"), str) else run_dir.resolve().name
    return ExportSource(model=model.eval(), config=dict(config), name=f"fewshot-sep-{name}",
                        training=training_summary(dict(config), checkpoint_file, run_dir))
