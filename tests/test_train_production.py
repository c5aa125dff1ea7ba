"""Training on produced mixes and confusable episodes: the data options of issue 25, part 2."""

from __future__ import annotations

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


def test_confusable_share_and_unchanged_streams(data):
    plain = EpisodeSampler(data, _config(), seed=1)
    zero = EpisodeSampler(data, _config(confusable=0.0), seed=1)
    np.testing.assert_array_equal(plain.episode(5).mixture, zero.episode(5).mixture)  # no extra draw at 0
    half = EpisodeSampler(data, _config(confusable=0.5), seed=1)
    mates = 0
    for i in range(30):
        ep = half.episode(i)
        mates += ep.negative_instrument >= 0 and family_of(ep.negative_instrument) == family_of(ep.target_instrument) \
            and ep.negative_instrument != ep.target_instrument
    assert 5 <= mates <= 29
    with pytest.raises(UserError, match="confusable=2"):
        _config(confusable=2.0)


def test_config_wraps_sources(tmp_path, data):
    from fewshot_sep.data.production import ProducedEpisodes
    from fewshot_sep.train.config import resolve_config
    from fewshot_sep.train.loop import build_sources, train_episode_config

    config = resolve_config({"data": {"root": str(data), "in_memory": False, "production_prob": 0.5,
                                      "confusable_prob": 0.25},
                             "val": {"episodes": 0}})
    assert train_episode_config(config).confusable == 0.25
    config["data"]["root"] = str(data)
    with pytest.raises(UserError):  # the synthetic robust set has no train split
        build_sources(config, progress=False)
    assert resolve_config({})["data"]["production_prob"] == 0.0 and resolve_config({})["val"]["production"] is False
    assert ProducedEpisodes  # imported lazily by build_sources
