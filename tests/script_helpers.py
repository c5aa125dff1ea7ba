"""Load a file under ``scripts/`` as a module, so tests can call its functions; a tiny torch run
folder for the scripts that take one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from repo_paths import REPO

SCRIPTS = REPO / "scripts"


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a fresh module (registered in ``sys.modules``: dataclasses look it up)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


TINY_MODEL = {"embedding_dim": 16, "channels": [8, 8, 8], "gru_hidden": 16, "context_dim": 16,
              "encoder_hidden": 16, "decoder_conv_levels": 1}


def tiny_torch_run(folder: Path) -> Path:
    """A run folder (``config.json`` + ``checkpoint.pt``) of an untrained tiny few-shot model
    (seeded, so the same weights every time); returns `folder`. Needs torch."""
    import torch

    from fewshot_sep.model import build_model
    from fewshot_sep.train.checkpoint import save_checkpoint, save_config

    torch.manual_seed(0)
    config = {"model": dict(TINY_MODEL)}
    folder.mkdir(parents=True)
    save_config(folder, config)
    save_checkpoint(folder / "checkpoint.pt", {"model": build_model(config).state_dict(), "step": 0})
    return folder
