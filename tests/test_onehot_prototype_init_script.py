"""scripts/onehot_prototype_init.py: a one-hot model with the few-shot separator and a class
table of per-instrument mean clip embeddings."""

import numpy as np
import pytest
import yaml

from data_helpers import synthetic_dataset
from script_helpers import TINY_MODEL, load_script, tiny_torch_run

torch = pytest.importorskip("torch")


class _Episodes:
    """A stand-in sampler: episode i has label ``labels[i]`` and two noise support clips seeded by i."""

    def __init__(self, labels: list[int]) -> None:
        self.labels = labels

    def instrument_ids(self) -> list[int]:
        return sorted(set(self.labels))

    def episode(self, index: int):
        from types import SimpleNamespace

        rng = np.random.default_rng(index)
        support = (0.1 * rng.standard_normal((2, 44100))).astype(np.float32)
        return SimpleNamespace(target_instrument=self.labels[index], support=support)


def test_prototypes_average_each_instruments_clip_embeddings_and_stop_when_every_class_is_full(tmp_path):
    from fewshot_sep.train.checkpoint import load_checkpoint
    from fewshot_sep.train.loop import support_embeddings
    from fewshot_sep.utils.errors import UserError

    script = load_script("onehot_prototype_init")
    model, _ = load_checkpoint(tiny_torch_run(tmp_path / "run"))
    sampler = _Episodes([5, 7, 5, 5, 7, 9, 7, 9, 5])
    ids, prototypes, counts = script.class_prototypes(model, sampler, clips_per_class=4, max_episodes=9)

    assert ids.tolist() == [5, 7, 9]
    assert counts.tolist() == [4, 4, 4]  # 2 clips per episode; episode 8 (a fourth "5") is not needed
    with torch.no_grad():
        emb = [support_embeddings(model, {"support": torch.from_numpy(sampler.episode(i).support)}).numpy()
               for i in range(9)]
    expected = {5: np.concatenate([emb[0], emb[2]]).mean(0), 7: np.concatenate([emb[1], emb[4]]).mean(0),
                9: np.concatenate([emb[5], emb[7]]).mean(0)}
    for row, label in enumerate(ids):
        np.testing.assert_allclose(prototypes[row], expected[int(label)], atol=1e-6)

    with pytest.raises(UserError, match="instruments \\[9\\]"):
        script.class_prototypes(model, sampler, clips_per_class=4, max_episodes=5)


def _fewshot_run(folder, model_cfg):
    """A run folder of an untrained few-shot model built from ``model_cfg`` with the trainer's defaults."""
    from fewshot_sep.model import build_model
    from fewshot_sep.train.checkpoint import save_checkpoint, save_config
    from fewshot_sep.train.config import resolve_config

    torch.manual_seed(0)
    config = resolve_config({"model": model_cfg})
    folder.mkdir(parents=True)
    save_config(folder, config)
    save_checkpoint(folder / "checkpoint.pt", {"model": build_model(config).state_dict(), "step": 0})
    return folder


def _onehot_config(path, data, model_cfg):
    path.write_text(yaml.safe_dump({
        "data": {"source": "render", "root": str(data), "in_memory": False, "clip_seconds": 1.0,
                 "support_seconds": 1.0},
        "model": {**model_cfg, "conditioning": "onehot"}}))
    return path


def test_the_written_model_conditions_on_the_prototypes_with_the_few_shot_separator(tmp_path, capsys):
    from fewshot_sep.data.episodes import EpisodeSampler
    from fewshot_sep.train.checkpoint import load_checkpoint
    from fewshot_sep.train.config import load_config
    from fewshot_sep.train.loop import train_episode_config

    script = load_script("onehot_prototype_init")
    data = synthetic_dataset(tmp_path / "data", n_works=12, seconds=4.0)
    fewshot_run = _fewshot_run(tmp_path / "fewshot", TINY_MODEL)
    config_path = _onehot_config(tmp_path / "onehot.yaml", data, TINY_MODEL)
    out = tmp_path / "init"
    assert script.main(["--fewshot", str(fewshot_run), "--config", str(config_path), "--out", str(out),
                        "--clips", "6", "--max-episodes", "400"]) == 0
    assert "class prototypes from" in capsys.readouterr().out

    onehot, config = load_checkpoint(out)
    fewshot, _ = load_checkpoint(fewshot_run)
    # The class order is the trainer's, derived from the same data and config.
    trainer_sampler = EpisodeSampler(data, train_episode_config(load_config(config_path)), seed=0)
    assert config["model"]["classes"] == [int(c) for c in trainer_sampler.instrument_ids()]
    for part in ("separator", "encoder"):
        own = getattr(onehot, part).state_dict()
        for name, value in getattr(fewshot, part).state_dict().items():
            assert torch.equal(own[name], value), f"{part}.{name}"
    # Each class's conditioning vector is its prototype's direction, from the few-shot encoder.
    ids, prototypes, _ = script.class_prototypes(fewshot, script.prototype_sampler(config, seed=0),
                                                 clips_per_class=6, max_episodes=400)
    with torch.no_grad():
        cond = onehot.conditioning_for_class(torch.arange(len(ids))).numpy()
    unit = prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True)
    np.testing.assert_allclose(cond[:, :prototypes.shape[1]], unit, atol=1e-4)
    assert np.all(cond[:, prototypes.shape[1]:] == 0)  # no negative half, flag 0


def test_a_config_whose_separator_differs_from_the_checkpoint_is_refused_by_name(tmp_path, capsys):
    script = load_script("onehot_prototype_init")
    data = synthetic_dataset(tmp_path / "data", n_works=12, seconds=4.0)
    fewshot_run = _fewshot_run(tmp_path / "fewshot", TINY_MODEL)
    config_path = _onehot_config(tmp_path / "onehot.yaml", data, {**TINY_MODEL, "channels": [8, 8, 12]})
    assert script.main(["--fewshot", str(fewshot_run), "--config", str(config_path), "--out",
                        str(tmp_path / "init")]) == 2
    err = capsys.readouterr().err
    assert "does not build the separator" in err and "onehot.yaml" in err and "config.json" in err
    assert not (tmp_path / "init").exists()
