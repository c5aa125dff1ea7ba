"""The project's synthesised instruments: a training source with random timbres per stem."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.data.split import instrument_status
from fewshot_sep.data.synth_instruments import METHOD_PROGRAMS, SYNTH_PROGRAMS, render_synth
from fewshot_sep.utils.errors import UserError

NOTES = np.array([[0.1, 0.6, 48, 100], [0.7, 1.2, 55, 80], [0.7, 1.2, 60, 80]], np.float64)


def test_every_synth_program_is_a_seen_class():
    assert all(instrument_status(p) == "seen" for p in SYNTH_PROGRAMS)
    assert set(METHOD_PROGRAMS) == {"plucked", "fm", "subtractive", "additive", "wavetable"}


@pytest.mark.parametrize("program", [programs[0] for programs in METHOD_PROGRAMS.values()])
def test_render_is_deterministic_timed_and_level_bounded(program):
    n = int(1.6 * 44100)
    audio = render_synth(program, NOTES, n, seed=5)
    assert audio.shape == (n,) and audio.dtype == np.float32 and np.isfinite(audio).all()
    np.testing.assert_array_equal(audio, render_synth(program, NOTES, n, seed=5))
    assert np.abs(audio).max() <= 0.9 + 1e-6
    assert np.abs(audio[: int(0.09 * 44100)]).max() == 0.0  # silent before the first note
    assert np.sqrt(np.mean(audio[int(0.1 * 44100): int(0.6 * 44100)] ** 2)) > 1e-3


def test_seeds_give_other_timbres():
    n = 44100
    freqs = np.fft.rfftfreq(n, 1 / 44100)

    def centroid(x: np.ndarray) -> float:  # brightness, in Hz
        mag = np.abs(np.fft.rfft(x))
        return float((freqs * mag).sum() / mag.sum())

    centroids = [centroid(render_synth(81, NOTES, n, seed=s)) for s in range(4)]
    assert max(centroids) > 1.3 * min(centroids)  # the same notes, other patches: other brightness


def test_unknown_program_is_refused():
    with pytest.raises(UserError, match="no patch for program 0"):
        render_synth(0, NOTES, 100, seed=0)


def test_planner_gives_the_synth_source_only_its_programs():
    from fewshot_sep.data.plan import plan_works

    specs = plan_works(0, 0.5, ("fluidr3", "synth"), [])
    synth = [s for s in specs if s.soundfont == "synth"]
    assert synth and all(inst in SYNTH_PROGRAMS for s in synth for inst, _ in s.instruments)
    assert any(inst not in SYNTH_PROGRAMS for s in specs if s.soundfont == "fluidr3" for inst, _ in s.instruments)
