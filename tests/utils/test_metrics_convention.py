"""One SI-SDR convention (fewshot_sep.utils.metrics) for the demo and the evaluation:
no mean removal, channels concatenated, clamped; the demo prints exactly that figure."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fewshot_sep.utils.metrics import CLAMP_DB, si_sdr, si_sdr_improvement


def _signals(seed: int = 0, n: int = 8000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.standard_normal(n)
    return reference, 0.8 * reference + 0.3 * rng.standard_normal(n)


def _zero_mean_si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """The other convention (the training loss's): both signals made zero-mean first."""
    s, e = reference - reference.mean(), estimate - estimate.mean()
    target = (e @ s) / (s @ s) * s
    return float(10 * np.log10((target @ target) / ((e - target) @ (e - target))))


def test_the_mean_is_not_removed():
    reference, estimate = _signals()
    offset = estimate + 0.5  # a DC offset is an error in this convention
    assert si_sdr(reference, offset) < si_sdr(reference, estimate) - 1.0
    assert _zero_mean_si_sdr(reference, offset) == pytest.approx(_zero_mean_si_sdr(reference, estimate), abs=1e-6)


def test_channels_are_concatenated():
    left, est_left = _signals(1)
    right, est_right = _signals(2)
    stereo = si_sdr(np.stack([left, right]), np.stack([est_left, est_right]))
    assert stereo == pytest.approx(si_sdr(np.concatenate([left, right]), np.concatenate([est_left, est_right])))


def test_clamped_and_improvement_is_a_difference():
    reference, estimate = _signals(3)
    assert si_sdr(reference, reference) == CLAMP_DB
    assert si_sdr(reference, np.zeros_like(reference)) == -CLAMP_DB
    mixture = reference + np.random.default_rng(4).standard_normal(reference.size)
    assert si_sdr_improvement(reference, estimate, mixture) == pytest.approx(
        si_sdr(reference, estimate) - si_sdr(reference, mixture))


def test_old_import_path_is_the_same_module():
    from fewshot_sep.eval import metrics as old

    assert old.si_sdr is si_sdr and old.si_sdr_improvement is si_sdr_improvement


def test_demo_prints_the_shared_figure(tmp_path, capsys):
    from fewshot_sep.cli import main
    from fewshot_sep.commands import demo
    from fewshot_sep.plugin_host.files.example import example_mix_path
    from fewshot_sep.utils.audio import read_audio

    assert not hasattr(demo, "_si_sdr_db"), "the demo keeps no SI-SDR of its own"
    assert main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    before, after, gain = (float(x) for x in re.search(
        r"mixture (-?[\d.]+) dB -> isolated (-?[\d.]+) dB \(improvement ([-+][\d.]+) dB\)", printed).groups())
    stems = example_mix_path().parent / "stems"
    reference, _ = read_audio(stems / "040-violin.flac")
    mixture, _ = read_audio(example_mix_path())
    isolated, _ = read_audio(tmp_path / "violin-isolated.wav")
    assert before == round(si_sdr(reference, mixture), 1)
    assert after == round(si_sdr(reference, isolated), 1)
    assert gain == pytest.approx(si_sdr_improvement(reference, isolated, mixture), abs=0.051)
