"""The export tests' tiny torch model (the smoke config's, every weight made to matter: see
model_test_config.perturbed_model), ONNX sessions and random inputs for it.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch

from fewshot_sep.train.config import load_config

from model_test_config import perturbed_model
from repo_paths import REPO

SMOKE_CONFIG_PATH = REPO / "configs" / "smoke.yaml"
# The smoke run's config (resolved): a model small enough to export and verify in about a second.
TINY_CONFIG = load_config(SMOKE_CONFIG_PATH)


def tiny_model(seed: int = 0) -> torch.nn.Module:
    """The tiny model in eval mode, all weights and BatchNorm statistics randomised."""
    return perturbed_model(TINY_CONFIG, seed, scale=0.2)


def session(path) -> ort.InferenceSession:
    """A single-threaded CPU session."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def magnitude(rng: np.random.Generator, batch: int, frames: int) -> np.ndarray:
    """``[B, 1, 513, T]`` float32 magnitudes with levels from 1e-3 to 1e2."""
    level = 10.0 ** rng.uniform(-3, 2, size=(batch, 1, 513, 1))
    return (np.abs(rng.standard_normal((batch, 1, 513, frames))) * level).astype(np.float32)


def conditioning(rng: np.random.Generator, batch: int,
                 embedding_dim: int = TINY_CONFIG["model"]["embedding_dim"]) -> np.ndarray:
    """``[B, 2E + 1]`` conditioning vectors with random unit-norm means (negatives on)."""
    pos = rng.standard_normal((batch, embedding_dim))
    neg = rng.standard_normal((batch, embedding_dim))
    pos /= np.linalg.norm(pos, axis=1, keepdims=True)
    neg /= np.linalg.norm(neg, axis=1, keepdims=True)
    return np.concatenate([pos, neg, np.ones((batch, 1))], axis=1).astype(np.float32)


def zero_states(card: dict, batch: int) -> dict[str, np.ndarray]:
    """Zero state inputs ``{state_i: array}`` for ``batch`` items, shapes from the model card."""
    return {s["name"]: np.zeros([batch if d is None else d for d in s["shape"]], np.float32)
            for s in card["separator"]["states"]}
