"""Training on produced mixes and confusable episodes: the data options of issue 25, part 2."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from eval_fixtures import make_synthetic_robust_set
from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler
from fewshot_sep.data.gm import family_of
from fewshot_sep.utils.errors import UserError

pytest.importorskip("pedalboard")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_synthetic_robust_set(tmp_path_factory.mktemp("prod") / "data", n_works=8, seconds=3.0)


def _config(**kw):
    base = dict(splits=("test",), interferer_splits=("test", "test_unseen"), support_splits=("test", "test_unseen"),
                clip_seconds=1.0, support_seconds=0.5, k_range=(2, 2), n_interferers=(2, 3), negative_prob=1.0,
                negatives_range=(2, 2), soundfonts=("fluidr3",))
    return EpisodeConfig(**{**base, **kw})


def test_produced_episodes_are_mono_sums_and_pure_functions_of_the_index(data):
    from fewshot_sep.data.production import ProducedEpisodes

    dry = EpisodeSampler(data, _config(), seed=3)
    produced = ProducedEpisodes(EpisodeSampler(data, _config(), seed=3), prob=0.5, seed=9)
    kinds = []
    for i in range(12):
        ep = produced.episode(i)
        assert ep.mixture.shape == ep.target.shape == (44100,)
        np.testing.assert_allclose(ep.mixture, ep.target + ep.interferers.sum(axis=0), atol=1e-5)
        kinds.append("production" in ep.stems)
        np.testing.assert_array_equal(ep.mixture, produced.episode(i).mixture)
        if "production" not in ep.stems:
            np.testing.assert_array_equal(ep.mixture, dry.episode(i).mixture)
    assert 2 <= sum(kinds) <= 10  # about half produced
    same = ProducedEpisodes(EpisodeSampler(data, _config(), seed=3), prob=0.0, seed=9)
    np.testing.assert_array_equal(same.episode(4).mixture, dry.episode(4).mixture)
    assert produced.rows is dry.rows or produced.rows == dry.rows  # the sampler's API passes through
    with pytest.raises(UserError, match="production.prob 1.5 is invalid"):
        ProducedEpisodes(dry, prob=1.5, seed=0)


# The draws of episodes 0-5 (stems, crop start, negative instrument) of `_config()` with seed 1,
# computed with the sampler of commit 253eb9d (before the music / confusable options): the
# options at their defaults must not change an existing training stream.
LEGACY_DRAWS = "22dca382b408f298"


def _draws(sampler: EpisodeSampler) -> str:
    def one(ep) -> str:
        return hashlib.sha256(json.dumps([ep.stems, ep.target_start_s, ep.negative_instrument]).encode()).hexdigest()[:16]

    return hashlib.sha256("".join(one(sampler.episode(i)) for i in range(6)).encode()).hexdigest()[:16]


def test_confusable_share_and_unchanged_streams(data):
    assert _draws(EpisodeSampler(data, _config(), seed=1)) == LEGACY_DRAWS
    assert _draws(EpisodeSampler(data, _config(confusable=0.0, music=None), seed=1)) == LEGACY_DRAWS
    half = EpisodeSampler(data, _config(confusable=0.5), seed=1)
    mates = 0
    for i in range(30):
        ep = half.episode(i)
        mates += ep.negative_instrument >= 0 and family_of(ep.negative_instrument) == family_of(ep.target_instrument) \
            and ep.negative_instrument != ep.target_instrument
    assert 5 <= mates <= 29
    with pytest.raises(UserError, match="confusable=2"):
        _config(confusable=2.0)


def test_config_wraps_sources(tmp_path):
    from data_helpers import synthetic_dataset
    from fewshot_sep.data.production import ProducedEpisodes
    from fewshot_sep.train.config import resolve_config
    from fewshot_sep.train.loop import build_sources, train_episode_config

    root = synthetic_dataset(tmp_path / "data", n_works=12, seconds=3.0)
    raw = {"data": {"root": str(root), "in_memory": False, "production_prob": 0.5, "confusable_prob": 0.25},
           "val": {"episodes": 0}}
    config = resolve_config(raw)
    assert train_episode_config(config).confusable == 0.25
    train_src, val_src = build_sources(config, progress=False)
    assert isinstance(train_src, ProducedEpisodes) and val_src is None
    assert train_src.rows  # the sampler's API passes through the wrapper
    plain, _ = build_sources(resolve_config({"data": {"root": str(root), "in_memory": False}, "val": {"episodes": 0}}),
                             progress=False)
    assert not isinstance(plain, ProducedEpisodes)
    # a config saved before these options (no keys at all) still builds: resumed runs
    old = resolve_config({"data": {"root": str(root), "in_memory": False}, "val": {"episodes": 0}})
    del old["data"]["production_prob"], old["data"]["confusable_prob"], old["val"]["production"]
    assert train_episode_config(old).confusable == 0.0 and not isinstance(build_sources(old, progress=False)[0],
                                                                           ProducedEpisodes)


def test_stereo_produced_episodes_are_one_channel_of_the_same_production(data):
    """With ``stereo`` (a ``model.stereo_input`` run) a produced episode is one channel of the
    stereo production that the mono wrapper downmixes: the same effect chains, the channel's
    sources summing to its mixture, the other channel's mixture beside it."""
    from fewshot_sep.data.production import ProducedEpisodes

    mono = ProducedEpisodes(EpisodeSampler(data, _config(), seed=3), prob=1.0, seed=9)
    stereo = ProducedEpisodes(EpisodeSampler(data, _config(), seed=3), prob=1.0, seed=9, stereo=True)
    for i in range(4):
        a, b = mono.episode(i), stereo.episode(i)
        assert a.stems["production"] == b.stems["production"] and a.mixture_other is None
        assert b.mixture.shape == b.target.shape == b.mixture_other.shape == (44100,)
        np.testing.assert_allclose(b.mixture, b.target + b.interferers.sum(axis=0), atol=1e-5)
        # the downmix is the mean of the two channels
        np.testing.assert_allclose(a.mixture, 0.5 * (b.mixture + b.mixture_other), atol=1e-5)
        assert np.abs(b.mixture - b.mixture_other).max() > 1e-3
        np.testing.assert_array_equal(b.mixture_other, stereo.episode(i).mixture_other)


def test_a_stereo_model_trains_and_validates_on_stereo_productions(tmp_path, monkeypatch):
    """``model.stereo_input`` makes both the training and the validation source keep produced
    episodes in stereo; with the augmentation deferred to the device it is refused up front."""
    from dataclasses import replace

    from data_helpers import synthetic_dataset
    from fewshot_sep.data import episodes
    from fewshot_sep.data.production import ProducedEpisodes

    class TestSplitForVal(episodes.EpisodeSampler):  # the tone dataset has no validation split
        def __init__(self, root, cfg, *args, **kwargs):
            super().__init__(root, replace(cfg, splits=("test",)) if cfg.splits == ("val",) else cfg, *args, **kwargs)

    monkeypatch.setattr(episodes, "EpisodeSampler", TestSplitForVal)
    from fewshot_sep.train.config import resolve_config
    from fewshot_sep.train.loop import build_sources

    root = synthetic_dataset(tmp_path / "data", n_works=12, seconds=3.0)
    raw = {"data": {"root": str(root), "in_memory": False, "production_prob": 0.5},
           "val": {"episodes": 4, "production": True}, "model": {"stereo_input": True}}
    train_src, val_src = build_sources(resolve_config(raw), progress=False)
    assert isinstance(train_src, ProducedEpisodes) and isinstance(val_src, ProducedEpisodes)
    assert train_src.stereo and val_src.stereo
    assert val_src.episode(0).mixture_other is not None
    mono_train, mono_val = build_sources(resolve_config({**raw, "model": {}}), progress=False)
    assert not mono_train.stereo and not mono_val.stereo
    deferred = {**raw, "data": {**raw["data"], "augment": {"enabled": True, "on_device": True}}}
    with pytest.raises(UserError, match="stereo_input with data.augment.on_device"):
        build_sources(resolve_config(deferred), progress=False)
