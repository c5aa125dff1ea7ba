"""The episode sources of a training run: the ``data`` and ``val`` sections of its config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fewshot_sep.train.batches import AugmentConfig
from fewshot_sep.utils.errors import UserError


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
    # a stereo_input model trains (and validates) on produced episodes kept in stereo
    stereo = bool(config["model"].get("stereo_input", False))
    if stereo and bool(data.get("augment", {}).get("on_device", False)):
        raise UserError("model.stereo_input with data.augment.on_device: the deferred batches hold mono "
                        "episodes only; set data.augment.on_device to false")
    train_src = EpisodeSampler(root, train_episode_config(config), seed=int(config["seed"]))
    if data["in_memory"]:
        train_src.load_into_memory(progress=progress, cache=bool(data.get("memstore_cache")))
    if float(data.get("production_prob", 0.0)) > 0:
        from fewshot_sep.data.production import ProducedEpisodes

        train_src = ProducedEpisodes(train_src, float(data["production_prob"]), int(config["seed"]), stereo=stereo)
    if int(val["episodes"]) == 0:
        return train_src, None
    val_cfg = EpisodeConfig(
        splits=("val",), clip_seconds=float(val["clip_seconds"]), support_seconds=3.0,
        k_range=(int(val["k"]), int(val["k"])), n_interferers=tuple(int(v) for v in val["n_interferers"]),
        negative_prob=0.0)
    val_src = EpisodeSampler(root, val_cfg, seed=int(val["seed"]))
    if val.get("production", False):
        from fewshot_sep.data.production import ProducedEpisodes

        val_src = ProducedEpisodes(val_src, 1.0, int(val["seed"]), stereo=stereo)
    return train_src, val_src
