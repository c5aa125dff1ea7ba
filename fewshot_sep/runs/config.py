"""Run configs: YAML files in ``configs/``, merged over defaults, checked.

Sections: ``data`` (episode sampler + augmentation), ``val`` (fixed validation
episodes), ``model`` (see :func:`fewshot_sep.model.build_model`), ``train``
(optimiser, schedule, checkpoints). Unknown keys are refused so a typo does not
silently fall back to a default.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Sequence

from fewshot_sep.utils.errors import UserError

DEFAULTS: dict[str, Any] = {
    "name": "run",
    "seed": 0,
    "data": {
        "source": "render",          # "render" (data/render manifest) | "synthetic"
        "root": "data/render",
        "in_memory": True,
        "clip_seconds": 1.5,
        "support_seconds": 1.0,
        "k_range": [1, 10],
        "n_interferers": [1, 4],
        "coherent_prob": 0.7,
        "negative_prob": 0.4,
        "negatives_range": [1, 5],
        "synthetic_instruments": 8,
        "workers": 1,
        "memstore_cache": False,    # in_memory: reuse/keep <root>/memstore/<key>.npy (memory-mapped)
        "augment": {"enabled": True, "eq_db": 4.0, "tilt_db": 1.5, "reverb_prob": 0.3},
        "confusable_prob": 0.0,     # share of episodes with an interferer of the target's GM family
        "production_prob": 0.0,     # share of episodes mixed like a production (fewshot_sep.data.production)
    },
    "val": {
        "episodes": 64,             # 0: no validation (e.g. a remote run without the val split)
        "k": 5,
        "n_interferers": [2, 4],
        "clip_seconds": 3.0,
        "seed": 1234,
        "every_minutes": 10.0,
        "every_steps": 0,           # > 0: validate every N steps instead of by time
        "batch_size": 16,
        "production": False,        # True: every validation episode produced (a robust validation set)
    },
    "model": {
        "conditioning": "fewshot",  # "fewshot" | "onehot" (baseline)
        "embedding_dim": 128,
        "channels": [32, 48, 64, 64],
        "band_width": 16,
        "time_kernel": 2,
        "freq_kernel": 3,
        "gru_hidden": 128,
        "context_dim": 128,
        "temporal": "gru",          # the temporal core; "gru" is the only one
        "film_decoder": True,
        "decoder_conv_levels": 3,
        "up_kernel": 2,
        "fine_head": 0,             # > 0: hidden channels of the full-resolution mask head (0 = band merge only)
        "band_gru": 0,              # > 0: hidden units of a per-band GRU on encoder level band_gru_level
        "band_gru_level": 1,
        "input_gain": 1.0,          # separator input log1p(gain * |X|); ~1000 makes it logarithmic
        "stereo_input": False,      # true: the separator also reads the other channel's level difference
        "pan_memory_seconds": 0.0,  # > 0 (stereo_input): running pan statistics of target and rest, this memory
        "lookahead_frames": 0,      # > 0: the studio tier's look-ahead in frames (output L frames late)
        "lookahead_hidden": 0,      # > 0: hidden channels of the look-ahead layer (0 with L > 0: gru_hidden)
        "encoder_mels": 64,
        "encoder_hidden": 96,
        "encoder_dilations": [1, 2, 4],
        "classes": None,            # one-hot: instrument labels, filled from the data at the first run
    },
    "train": {
        "batch_size": 16,
        "lr": 1e-3,
        "warmup_steps": 200,
        "total_steps": 60000,
        "final_lr_fraction": 0.05,
        "weight_decay": 0.0,
        "grad_clip": 5.0,
        "sisdr_weight": 1.0,
        "magnitude_weight": 5.0,
        "checkpoint_minutes": 5.0,
        "log_every": 25,
        "threads": 1,
        "max_steps": None,
        "max_minutes": None,
        "init_from": None,          # checkpoint (.pt or run folder) whose matching weights start a new run
        "prototype_weight": 0.0,    # few-shot: weight of the auxiliary prototype loss on support embeddings
        "trainable": None,          # list of parameter-name prefixes to train (None = all; the rest frozen)
        "frozen_norms": "running",  # frozen batch norms normalise with: running statistics, or "batch" (stage 9)
        "negative_leak_weight": 0.0,  # few-shot: weight of the negative-leakage loss (losses.negative_leakage_db)
        "negative_leak_floor_db": -30.0,  # leakage below this (dB re the target) is not penalised further
        "ema_decay": 0.0,           # > 0: validate and keep the moving average of the weights (e.g. 0.998)
        "lr_scale": None,           # {parameter-name prefix: factor}: those parameters learn factor x faster
        "schedule_minutes": None,   # fresh run: after warm-up, set total_steps to what fits in this many minutes
        "snapshot_minutes": None,   # > 0: also keep the validated weights as snapshot-<step>.pt this often
        "max_snapshots": 5,         # the oldest snapshots beyond this many are deleted
        "schedule_fitted_at": None, # set by the run: the step at which schedule_minutes fixed total_steps
    },
}


_LAB_NOTEBOOK = "git commit bc17340, the lab notebook"
_SUPPORT_ATTENTION = "support attention, retired in session 24; its code is at git commit 6027051"
_FINE_HEAD_CONTEXT = "the fine head's frequency context, stage 17; its code is at git commit a032b32"

#: Keys of retired experiment options -> (the values that meant "off", the default first; where
#: the experiment's code is). Saved configs (models/, runs/) still carry them; they are accepted
#: at those values and dropped.
RETIRED: dict[str, tuple[tuple[Any, ...], str]] = {
    "model.tcn_dilations": ((None,), _LAB_NOTEBOOK),       # the TCN temporal core
    "model.refiner": ((0, None), _LAB_NOTEBOOK),           # the full-resolution mask refiner with time context
    "model.refiner_frames": ((3, None), _LAB_NOTEBOOK),    # ... and its time kernel
    # issue 25's stages 15-16: attention from the bottleneck frames / an encoder level's bands
    # to the example clips (docs/history/README.md)
    "model.support_attention": ((0, None), _SUPPORT_ATTENTION),
    "model.support_heads": ((4,), _SUPPORT_ATTENTION),
    "model.support_pool_frames": ((8,), _SUPPORT_ATTENTION),
    "model.support_band_attention": ((0, None), _SUPPORT_ATTENTION),
    "model.support_band_level": ((1,), _SUPPORT_ATTENTION),
    "model.support_band_heads": ((2,), _SUPPORT_ATTENTION),
    # issue 25's stage 17: dilated frequency blocks widening what the fine head's bins see
    # (docs/history/robust-runs.md)
    "model.fine_head_context": ((0, None), _FINE_HEAD_CONTEXT),
}


def _merge(base: dict[str, Any], override: dict[str, Any], where: str) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if f"{where}{key}" in RETIRED:
            off, retired_in = RETIRED[f"{where}{key}"]
            if value not in off:
                raise UserError(f"config key '{where}{key}' belonged to a retired experiment ({retired_in}): "
                                f"remove it, or set it to {off[0]!r}")
            continue
        if key not in base:
            raise UserError(f"config key '{where}{key}' is unknown: valid keys are {sorted(base)}")
        if isinstance(base[key], dict) and key not in ("augment",):
            if not isinstance(value, dict):
                raise UserError(f"config key '{where}{key}' must be a mapping")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        elif isinstance(base[key], dict):
            out[key] = {**base[key], **(value or {})}
        else:
            out[key] = value
    return out


def resolve_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Defaults merged with ``raw``; raises :class:`UserError` on unknown keys or bad values."""
    config = _merge(DEFAULTS, raw or {}, "")
    if config["data"]["source"] not in ("render", "synthetic"):
        raise UserError(f"data.source {config['data']['source']!r} is invalid: use 'render' or 'synthetic'")
    if config["model"]["conditioning"] not in ("fewshot", "onehot"):
        raise UserError(f"model.conditioning {config['model']['conditioning']!r} is invalid: use 'fewshot' or 'onehot'")
    if int(config["train"]["batch_size"]) < 1:
        raise UserError(f"train.batch_size {config['train']['batch_size']} is invalid: use >= 1")
    ema_decay = float(config["train"]["ema_decay"] or 0.0)
    if not (ema_decay == 0.0 or 0.0 < ema_decay < 1.0):
        raise UserError(f"train.ema_decay {config['train']['ema_decay']} is invalid: use 0 (off) "
                        f"or a value in (0, 1) such as 0.998")
    for key in ("schedule_minutes", "snapshot_minutes"):
        value = config["train"][key]
        if value is not None and not float(value) > 0:
            raise UserError(f"train.{key} {value} is invalid: use a number of minutes > 0, or leave it unset")
    if not float(config["train"]["negative_leak_weight"]) >= 0:
        raise UserError(f"train.negative_leak_weight {config['train']['negative_leak_weight']} is invalid: "
                        f"use 0 (off) or a positive weight such as 0.3")
    frozen_norms = config["train"]["frozen_norms"]
    if frozen_norms not in ("running", "batch"):
        raise UserError(f"train.frozen_norms {frozen_norms!r} is invalid: use 'running' (frozen batch norms use "
                        "their running statistics, as at inference) or 'batch' (batch statistics in training)")
    trainable = config["train"]["trainable"]
    if trainable is not None and (not isinstance(trainable, list) or not trainable
                                  or not all(isinstance(t, str) and t for t in trainable)):
        raise UserError(f"train.trainable {trainable!r} is invalid: give a list of parameter-name prefixes "
                        f"(e.g. [separator.context, separator.dec_films]) or leave it unset to train everything")
    if int(config["train"]["max_snapshots"]) < 1:
        raise UserError(f"train.max_snapshots {config['train']['max_snapshots']} is invalid: use 1 or more")
    if int(config["val"]["episodes"]) < 0:
        raise UserError(f"val.episodes {config['val']['episodes']} is invalid: use 0 (no validation) or more")
    return config


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Set ``SECTION.KEY=VALUE`` overrides (``VALUE`` read as YAML: ``4``, ``true``, ``[1, 2]``)
    in the raw config mapping ``raw`` (changed in place and returned)."""
    import yaml

    for item in overrides:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise UserError(f"--set {item!r} is invalid: write SECTION.KEY=VALUE, e.g. model.lookahead_frames=4")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise UserError(f"--set {item!r}: the value is not valid YAML ({err})") from None
        if isinstance(parsed, str):  # YAML 1.1 reads 3e-4 as a string
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        node = raw
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UserError(f"--set {item!r}: {part} is a value, not a section")
            node = child
        node[parts[-1]] = parsed
    return raw


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read a YAML run config, apply ``SECTION.KEY=VALUE`` overrides and resolve it
    against the defaults."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"config {path} does not exist: pass a YAML file such as configs/release.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UserError(f"config {path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise UserError(f"config {path} must be a YAML mapping with sections data/val/model/train")
    return resolve_config(apply_overrides(raw, overrides))
