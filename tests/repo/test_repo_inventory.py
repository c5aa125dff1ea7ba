"""What the repository ships after issue 28 retired the lab notebook: the checkpoints that
commands use, a way back to every retired one, and configs that start from what exists.

The retired scripts, configs and checkpoints are at the git commit named in
docs/history/README.md; models/README.md lists every retired checkpoint with its sha256.
"""

import hashlib
import re
from pathlib import Path

import pytest

from repo_paths import REPO

MODELS = REPO / "models"


def _checkpoint_folders() -> set[str]:
    return {p.parent.name for p in MODELS.glob("*/checkpoint.pt")}


def _retired_listing() -> dict[str, dict[str, str]]:
    """models/README.md's retired folders: {name: {file: sha256}}."""
    text = (MODELS / "README.md").read_text(encoding="utf-8")
    listing: dict[str, dict[str, str]] = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        name = re.match(r"`models/([\w.-]+)`", section).group(1)
        listing[name] = dict(re.findall(r"^\| `([\w.]+)` \| [\d,]+ \| `([0-9a-f]{64})` \|$", section, flags=re.M))
    return listing


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_models_holds_the_two_checkpoints_that_commands_use():
    from fewshot_sep.commands.evaluate import DEFAULT_CHECKPOINTS, DEFAULT_ONEHOT_CHECKPOINTS

    assert _checkpoint_folders() == {"release", "onehot"}
    assert DEFAULT_CHECKPOINTS[0] == "models/release"
    assert DEFAULT_ONEHOT_CHECKPOINTS[0] == "models/onehot"


def test_every_retired_checkpoint_is_listed_with_the_hashes_of_its_files():
    listing = _retired_listing()
    assert len(listing) == 8
    for name, files in listing.items():
        assert not (MODELS / name).exists(), f"models/{name} is listed as retired but is still there"
        assert set(files) == {"checkpoint.pt", "config.json", "log.csv"}, name
    # models/release-stage8 was a copy of the release: its listed hashes are the release's files
    for file, digest in listing["release-stage8"].items():
        assert _sha256(MODELS / "release" / file) == digest, file


def test_every_config_starts_from_a_checkpoint_in_the_tree_or_a_listed_retired_one():
    from fewshot_sep.train.config import load_config

    listing = _retired_listing()
    for path in sorted((REPO / "configs").glob("*.yaml")):
        init_from = load_config(path)["train"]["init_from"]
        if not init_from or not init_from.startswith("models/"):
            continue  # none, or a run folder the config's header says how to make
        folder = Path(init_from).parts[1]
        assert (REPO / init_from).exists() or folder in listing, f"{path.name}: init_from {init_from}"


def test_configs_and_scripts_stay_few():
    assert len(list((REPO / "configs").iterdir())) <= 10
    assert len(list((REPO / "scripts").iterdir())) <= 10


def test_the_release_the_baseline_and_any_committed_run_load():
    pytest.importorskip("torch")
    import json

    from fewshot_sep.model import build_model
    from fewshot_sep.train.checkpoint import load_checkpoint, read_checkpoint

    for name, run_name in (("release", "release-stage8"), ("onehot", "onehot-stage8")):
        model, config = load_checkpoint(MODELS / name)
        assert config["name"] == run_name and not model.training
        assert read_checkpoint(MODELS / name / "checkpoint.pt")["step"] > 0
    # A run in progress is committed as runs/NAME/ (git add -f); none is while no stage runs.
    for run in sorted(path.parent for path in (REPO / "runs").glob("*/checkpoint.pt")):
        state = read_checkpoint(run / "checkpoint.pt")
        model = build_model(json.loads((run / "config.json").read_text(encoding="utf-8")))
        model.load_state_dict(state["model"], strict=True)  # what --resume does first
        assert {"optimizer", "step"} <= set(state), run.name
