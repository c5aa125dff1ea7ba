"""Checkpoints: ``state_dict`` + plain numbers, ``config.json`` beside, atomic writes.

A run folder holds ``config.json`` (the resolved run config, plain JSON),
``checkpoint.pt`` (latest: model, optimizer, step and counters), ``best.pt``
(the best validation SI-SDRi so far, same format) and ``log.csv``. Files are
written to a temp file and renamed, and loaded with ``torch.load(weights_only=True)``
(no pickled classes anywhere).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from fewshot_sep.utils.atomic import atomic_path, write_json_atomic
from fewshot_sep.utils.errors import UserError

CHECKPOINT_NAME = "checkpoint.pt"
BEST_NAME = "best.pt"
CONFIG_NAME = "config.json"


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write ``payload`` (tensors, state_dicts, plain numbers/strings) atomically to ``path``."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def save_config(run_dir: str | os.PathLike, config: dict[str, Any]) -> None:
    """Write the run config as ``config.json`` in ``run_dir`` (atomic)."""
    write_json_atomic(Path(run_dir) / CONFIG_NAME, config)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint dict safely (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist: train first (fewshot-sep train CONFIG --run-dir DIR)")
    return torch.load(path, map_location="cpu", weights_only=True)


def _resolve(run_dir_or_file: str | os.PathLike) -> tuple[Path, Path]:
    path = Path(run_dir_or_file)
    if path.is_dir():
        ckpt = path / BEST_NAME if (path / BEST_NAME).is_file() else path / CHECKPOINT_NAME
        return ckpt, path / CONFIG_NAME
    return path, path.parent / CONFIG_NAME


def read_run_config(run_dir_or_file: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a run folder, or the one beside a ``.pt`` file."""
    config_path = _resolve(run_dir_or_file)[1]
    if not config_path.is_file():
        raise UserError(f"{config_path} is missing: a checkpoint needs the config.json of its run beside it")
    return json.loads(config_path.read_text(encoding="utf-8"))


def load_checkpoint(run_dir_or_file: str | os.PathLike, which: str = "best") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model of a run and load its weights; returns ``(model in eval mode, config)``.

    ``run_dir_or_file``: a run folder (uses ``best.pt`` if present, else
    ``checkpoint.pt``; ``which="latest"`` forces ``checkpoint.pt``) or a ``.pt``
    file with ``config.json`` beside it.
    """
    from fewshot_sep.model import build_model

    ckpt_path = _resolve(run_dir_or_file)[0]
    if which == "latest" and Path(run_dir_or_file).is_dir():
        ckpt_path = Path(run_dir_or_file) / CHECKPOINT_NAME
    if not ckpt_path.is_file():
        raise UserError(f"checkpoint {ckpt_path} does not exist: give a training run folder "
                        f"(fewshot-sep train CONFIG --run-dir DIR) or its .pt file")
    config = read_run_config(run_dir_or_file)
    payload = read_checkpoint(ckpt_path)
    model = build_model(config)
    model.load_state_dict(payload["model"])
    model.eval()
    return model, config


def publish_checkpoint(run_dir: str | os.PathLike, out_dir: str | os.PathLike, which: str = "best") -> Path:
    """Copy a run's model for the repo: ``out_dir/checkpoint.pt`` (weights + counters, no
    optimiser state, so a few MB), ``config.json`` and ``log.csv``. Returns the checkpoint path."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    source = run_dir / (BEST_NAME if which == "best" and (run_dir / BEST_NAME).is_file() else CHECKPOINT_NAME)
    payload = read_checkpoint(source)
    slim = {key: value for key, value in payload.items() if key != "optimizer"}
    slim["source"] = source.name
    out_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out_dir / CHECKPOINT_NAME, slim)
    config = json.loads((run_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    save_config(out_dir, config)
    log = run_dir / "log.csv"
    if log.is_file():
        from fewshot_sep.utils.atomic import write_text_atomic

        write_text_atomic(out_dir / "log.csv", log.read_text(encoding="utf-8"))
    for name in (CHECKPOINT_NAME, CONFIG_NAME, "log.csv"):
        if (out_dir / name).is_file():
            os.chmod(out_dir / name, 0o644)  # files meant for the repository: world-readable
    return out_dir / CHECKPOINT_NAME
