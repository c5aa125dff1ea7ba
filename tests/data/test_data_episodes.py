"""Episode sampler: support never from the mixture's works, reproducible by seed,
shapes and gains consistent, splits respected, stores agree."""

import numpy as np
import pytest

from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler, FlacStore, MemoryStore
from fewshot_sep.data.manifest import read_manifest
from fewshot_sep.utils.errors import UserError

from data_helpers import SYNTH_FREQS, synthetic_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return synthetic_dataset(tmp_path_factory.mktemp("tones"), seconds=5.0)


def _dominant_freq(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * 44100 / len(x))


def test_100_episodes_support_and_negatives_never_from_the_mixture(dataset):
    sampler = EpisodeSampler(dataset, EpisodeConfig(clip_seconds=1.0, negative_prob=0.7), seed=0)
    sampler.load_into_memory(progress=False)
    n_coherent = n_neg = 0
    for i in range(100):
        ep = sampler.episode(i)
        mixture_works = {ep.work_id, *ep.interferer_work_ids}
        assert not mixture_works & set(ep.support_work_ids), (i, mixture_works, ep.support_work_ids)
        assert not mixture_works & set(ep.negative_work_ids)
        assert ep.target_instrument not in ep.interferer_instruments
        assert len(set(ep.interferer_instruments)) == len(ep.interferer_instruments)
        # the support audio really is the target instrument (tone frequency)
        for clip in ep.support:
            assert abs(_dominant_freq(clip) - SYNTH_FREQS[ep.target_instrument]) < 5.0
        if len(ep.negatives):
            n_neg += 1
            assert ep.negative_instrument in ep.interferer_instruments
        n_coherent += ep.coherent
        if ep.coherent:
            assert set(ep.interferer_work_ids) == {ep.work_id}
    assert 30 < n_coherent < 100 and n_neg > 20


def test_fill_interferers_tops_up_short_pieces_with_other_pieces(dataset):
    # every tone work has 4 parts, so a coherent episode has at most 3 mates
    drawn = dict(clip_seconds=1.0, k_range=(1, 1), n_interferers=(4, 4), coherent_prob=1.0, negative_prob=0.0)
    plain = EpisodeSampler(dataset, EpisodeConfig(**drawn), seed=3)
    filled = EpisodeSampler(dataset, EpisodeConfig(**drawn, fill_interferers=True), seed=3)
    for i in range(10):
        short, full = plain.episode(i), filled.episode(i)
        assert len(short.interferer_instruments) <= 3 and len(full.interferer_instruments) == 4, i
        assert full.interferer_instruments[: len(short.interferer_instruments)] == short.interferer_instruments
        assert len({full.target_instrument, *full.interferer_instruments}) == 5
        assert full.interferer_work_ids[-1] not in {full.work_id, *full.support_work_ids}
        np.testing.assert_allclose(full.mixture, full.target + full.interferers.sum(0), atol=1e-5)


def test_shapes_gains_and_mixture_sum(dataset):
    cfg = EpisodeConfig(clip_seconds=1.5, support_seconds=1.0, k_range=(3, 3), n_interferers=(2, 2), negative_prob=1.0,
                        negatives_range=(2, 2))
    ep = EpisodeSampler(dataset, cfg, seed=1).episode(0)
    n = int(1.5 * 44100)
    assert ep.mixture.shape == (n,) and ep.target.shape == (n,) and ep.interferers.shape[1] == n
    assert ep.support.shape == (3, 44100) and ep.negatives.shape == (2, 44100)
    assert ep.mixture.dtype == np.float32
    np.testing.assert_allclose(ep.mixture, ep.target + ep.interferers.sum(0), atol=1e-5)
    assert np.abs(ep.mixture).max() <= 0.99 + 1e-6
    assert np.sqrt(np.mean(ep.target ** 2)) > 1e-3  # crop taken where the target is active


def test_reproducible_by_seed_and_order_independent(dataset):
    a = EpisodeSampler(dataset, EpisodeConfig(clip_seconds=1.0), seed=7)
    b = EpisodeSampler(dataset, EpisodeConfig(clip_seconds=1.0), seed=7)
    c = EpisodeSampler(dataset, EpisodeConfig(clip_seconds=1.0), seed=8)
    later = b.episode(5)
    first = [a.episode(i) for i in range(6)]
    assert np.array_equal(first[5].mixture, later.mixture) and np.array_equal(first[5].support, later.support)
    it = iter(b)
    assert np.array_equal(next(it).mixture, first[0].mixture)
    assert any(not np.array_equal(c.episode(i).mixture, first[i].mixture) for i in range(6))


def test_memory_store_equals_flac_store(dataset):
    rows = read_manifest(dataset)
    mem = MemoryStore.load(dataset, rows, progress=False)
    flac = FlacStore(dataset, rows)
    for stem, start in ((0, 0), (3, 1000), (5, rows[5]["num_samples"] - 100)):
        x = np.empty(500, np.float32)
        y = np.empty(500, np.float32)
        mem.read_into(stem, start, x)
        flac.read_into(stem, start, y)
        np.testing.assert_array_equal(x, y)
    assert not np.any(x[100:]) and not np.any(y[100:])  # zeros past the end
    cached = MemoryStore.load(dataset, rows, progress=False, cache=True)
    again = MemoryStore.load(dataset, rows, progress=False, cache=True)
    assert isinstance(again.audio, np.memmap)
    np.testing.assert_array_equal(np.asarray(again.audio), mem.audio)
    np.testing.assert_array_equal(np.asarray(cached.audio), mem.audio)


def test_splits_are_respected(dataset):
    rows = read_manifest(dataset)
    sampler = EpisodeSampler(dataset, EpisodeConfig(clip_seconds=1.0, splits=("train",)), seed=0)
    sampler.load_into_memory(progress=False)
    for i in range(50):
        ep = sampler.episode(i)
        for stem in [ep.stems["target"], *ep.stems["interferers"], *ep.stems["support"], *ep.stems["negatives"]]:
            assert rows[stem]["split"] == "train"
    test_sampler = EpisodeSampler(dataset, EpisodeConfig(clip_seconds=1.0, splits=("test",)), seed=0)
    assert all(rows[test_sampler.episode(i).stems["target"]]["split"] == "test" for i in range(20))


def test_bad_config_is_a_user_error(dataset):
    with pytest.raises(UserError, match="k_range"):
        EpisodeConfig(k_range=(0, 3))
    with pytest.raises(UserError, match="no episode"):
        EpisodeSampler(dataset, EpisodeConfig(splits=("val",)))
