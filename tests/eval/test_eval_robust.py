"""The robustness suite: conditions draw what they say, effects keep the mixture a sum of references,
the harness scores stereo episodes, the report and the results section come out right.

Runs on `make_synthetic_robust_set` (no FluidSynth, no TiMidity): every work in a "training"
and a "held-out" timbre, two music streams, family mates for confusable episodes.
"""

from __future__ import annotations

import numpy as np
import pytest

from eval_fixtures import make_positive_gain_model, make_synthetic_robust_set
from fewshot_sep.data.gm import family_of, is_drum
from fewshot_sep.eval.robust import CONDITIONS, HELDOUT, PREROLL_S, RobustEpisodes
from fewshot_sep.utils.errors import UserError

pytest.importorskip("fast_bss_eval")
pytest.importorskip("matplotlib")
pytest.importorskip("pedalboard")


@pytest.fixture(scope="module")
def robust_set(tmp_path_factory):
    return make_synthetic_robust_set(tmp_path_factory.mktemp("robust") / "data", n_works=12, seconds=4.0)


def _episodes(data, condition, split="test", seconds=2.0):
    return RobustEpisodes(data, condition, split, seconds=seconds, support_seconds=1.0, k=3, negatives=3, seed=0)


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_condition_draws_its_sources_music_and_targets(robust_set, condition):
    c = CONDITIONS[condition]
    eps = _episodes(robust_set, condition)
    rows = eps.sampler.rows
    for index in range(4):
        ep = eps.episode(index)
        stems = [ep.stems["target"], *ep.stems["interferers"]]
        assert all(rows[s]["soundfont"] in c.sources for s in stems)
        mixed = [s for s in stems if not (c.confusable and rows[s]["instrument"] == ep.negative_instrument)]
        assert all(rows[s]["source"].split(":")[0] in c.music for s in mixed)  # the family mate may not be
        assert is_drum(ep.target_instrument) == (condition == "robust-drums")
        lo, hi = c.interferers
        assert lo <= len(ep.interferer_instruments) <= hi
        expected = (2, int(2.0 * 44100)) if c.effects else (int(2.0 * 44100),)
        assert ep.mixture.shape == expected and ep.target.shape == expected
        np.testing.assert_allclose(ep.mixture, ep.target + ep.interferers.sum(axis=0), atol=1e-5)
        assert ep.support.ndim == 2 and ep.support.shape[0] == 3  # mono example clips
        if c.generic_examples:
            assert ep.soundfont.endswith("(examples fluidr3)")


def test_confusable_has_a_family_mate_and_its_negatives(robust_set):
    eps = _episodes(robust_set, "confusable")
    for index in range(6):
        ep = eps.episode(index)
        assert ep.index == index
        assert ep.negative_instrument in ep.interferer_instruments
        assert family_of(ep.negative_instrument) == family_of(ep.target_instrument)
        assert ep.negative_instrument != ep.target_instrument
        assert len(ep.negatives) == 3


def test_generic_examples_come_from_the_training_source_and_other_pieces(robust_set):
    matched, generic = _episodes(robust_set, "robust"), _episodes(robust_set, "robust-generic")
    rows = generic.sampler.rows
    for index in range(4):
        ep_m, ep_g = matched.episode(index), generic.episode(index)
        np.testing.assert_array_equal(ep_m.mixture, ep_g.mixture)  # same mixture, other examples
        assert ep_m.soundfont in HELDOUT and all(rows[s]["soundfont"] in HELDOUT for s in ep_m.stems["support"])
        mixture_works = {ep_g.work_id, *ep_g.interferer_work_ids}
        assert len(ep_g.stems["support"]) == 3
        for s in ep_g.stems["support"]:
            assert rows[s]["soundfont"] == "fluidr3" and rows[s]["instrument"] == ep_g.target_instrument
            assert rows[s]["work_id"] not in mixture_works


def test_effects_are_deterministic_and_cut_the_preroll(robust_set):
    eps = _episodes(robust_set, "effects", seconds=1.5)
    a, b = eps.episode(2), eps.episode(2)
    np.testing.assert_array_equal(a.mixture, b.mixture)
    assert a.mixture.shape == (2, int(1.5 * 44100))
    assert eps.sampler.clip_samples == int(round((1.5 + PREROLL_S) * 44100))
    production = a.stems["production"]
    assert len(production["stems"]) == 1 + len(a.interferer_instruments) and "limiter_ceiling_db" in production["bus"]
    dry = _episodes(robust_set, "in-domain", seconds=1.5).episode(2)
    assert dry.mixture.ndim == 1 and "production" not in dry.stems


def test_unknown_condition_is_refused(robust_set):
    with pytest.raises(UserError, match="--conditions nope is invalid"):
        _episodes(robust_set, "nope")


@pytest.mark.slow  # about 25 s on 2 free cores (NMF and stereo episodes in every condition)
def test_harness_scores_the_suite_and_writes_the_results_section(robust_set, tmp_path):
    from fewshot_sep.eval.harness import EvalSettings, run_evaluation
    from fewshot_sep.eval.outputs import write_outputs
    from fewshot_sep.eval.report import ROBUST_SECTION_END, ROBUST_SECTION_START, write_results_markdown

    model = make_positive_gain_model(tmp_path)
    settings = EvalSettings(data=str(robust_set), splits=["test", "test_unseen"], episodes=1, ks=[1, 3],
                            negatives="both", systems=["mixture", "oracle", "nmf", "fewshot-onnx", "fewshot-nmf"],
                            model=str(model),
                            seconds=1.0, support_seconds=1.0, listen=1, suite="robust",
                            conditions=["in-domain", "effects", "confusable", "robust-drums"])
    outcome = run_evaluation(settings, tmp_path / "out", workers=1, progress=False, in_process=True)
    ok = [r for r in outcome.rows if r["status"] == "ok"]
    sets = {(r["condition"], r["split"]) for r in ok}
    assert ("robust-drums", "test_unseen") not in sets  # no unseen kit among the held-out sources
    assert {("in-domain", "test"), ("effects", "test_unseen"), ("confusable", "test"), ("robust-drums", "test")} <= sets
    for r in ok:
        if r["system"] == "mixture":
            assert r["si_sdri"] == pytest.approx(0.0, abs=1e-9)
        if r["system"] == "fewshot-onnx":  # the gain double scales the mixture: SI-SDRi 0 if aligned
            assert r["si_sdri"] == pytest.approx(0.0, abs=1e-3)
    oracle = [r["si_sdri"] for r in ok if r["system"] == "oracle"]
    assert min(oracle) > 3.0  # spectrally disjoint sources, stereo or mono: the IRM separates them
    nmf = [r for r in ok if r["system"] == "nmf"]
    assert {(r["k"], r["negatives"]) for r in nmf} == {(3, "without")}
    assert np.median([r["si_sdri"] for r in nmf]) > 1.0  # examples' own spectra find the target band
    blend = [r for r in ok if r["system"] == "fewshot-nmf"]
    assert len(blend) == len(nmf) and {(r["k"], r["negatives"]) for r in blend} == {(3, "without")}

    page = tmp_path / "results.md"
    paths = write_outputs(settings, outcome, tmp_path / "out", "fewshot-sep evaluate --suite robust", 1,
                          results_md=page)
    text = page.read_text()
    assert ROBUST_SECTION_START in text and ROBUST_SECTION_END in text and "robustness.png" in text
    assert (tmp_path / "results" / "robustness.png").is_file() and paths["robustness"].is_file()
    assert "| in-domain s |" in text and "**Negatives on confusable episodes**" in text
    # the standard page rewritten later keeps the suite's section, once
    write_results_markdown(page, [], {"command": "standard"}, [])
    again = page.read_text()
    assert again.count(ROBUST_SECTION_START) == 1 and "| in-domain s |" in again and "standard" in again
    # ... laid out as the suite lays it out (one blank line before it), so rewrites are stable
    assert "\n\n\n" + ROBUST_SECTION_START not in again and "\n\n" + ROBUST_SECTION_START in again
    write_results_markdown(page, [], {"command": "standard"}, [])
    assert page.read_text() == again


def test_robust_suite_refuses_val_and_a_lone_blend(robust_set):
    from fewshot_sep.eval.harness import EvalSettings, validate_settings

    with pytest.raises(UserError, match="--split val is invalid with --suite robust"):
        validate_settings(EvalSettings(data=str(robust_set), splits=["val"], suite="robust", conditions=["robust"]))
    with pytest.raises(UserError, match="fewshot-nmf needs fewshot-onnx and nmf too"):
        validate_settings(EvalSettings(data=str(robust_set), systems=["mixture", "fewshot-nmf"], suite="robust",
                                       conditions=["robust"]))


def test_confusable_without_a_family_mate_is_flagged(robust_set, monkeypatch):
    import fewshot_sep.eval.robust as robust

    monkeypatch.setattr(robust, "CONFUSABLE_ATTEMPTS", 0)  # no redraw: the first draw is kept
    eps = _episodes(robust_set, "confusable", split="test_unseen")
    flags = {}
    for index in range(12):
        ep = eps.episode(index)
        flags.setdefault(ep.target_instrument, set()).add(ep.stems["confusable"])
    assert flags.get(110) == {False}  # Fiddle has no other Ethnic instrument in the data
    assert True in flags.get(43, set())  # Contrabass has Viola
