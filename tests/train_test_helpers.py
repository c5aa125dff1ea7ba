"""Small training configs for the training tests (synthetic episodes, tiny model)."""

from fewshot_sep.train.config import load_config

from repo_paths import REPO


def smoke_config(**train_overrides):
    """configs/smoke.yaml resolved, with optional ``train`` overrides; validation only at start/end."""
    config = load_config(REPO / "configs" / "smoke.yaml")
    config["val"]["every_steps"] = 0
    config["val"]["every_minutes"] = 1e6
    config["train"].update(train_overrides)
    return config
