"""mix, mode and conditioning change while streaming without clicks."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.realtime.engine import StreamingSeparator
from model_doubles import gain_conditioning

SR = 44100
BLOCK = 256


def _sine(n: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(n) / SR
    # both channels start at 0, so the onset is not a step
    return np.stack([amp * np.sin(2 * np.pi * freq * t), 0.7 * amp * np.sin(2 * np.pi * 1.25 * freq * t)]).astype(np.float32)


def _run(engine: StreamingSeparator, x: np.ndarray, changes: dict) -> np.ndarray:
    out = []
    for i, start in enumerate(range(0, x.shape[1], BLOCK)):
        if i in changes:
            changes[i](engine)
        out.append(engine.process_block(x[:, start : start + BLOCK]))
    return np.concatenate(out, axis=1)


def _max_step(y: np.ndarray) -> float:
    return float(np.abs(np.diff(y, axis=1)).max())


CHANGES = {
    20: lambda e: setattr(e, "mix", 0.0),
    40: lambda e: setattr(e, "mix", 1.0),
    60: lambda e: setattr(e, "mode", "remove"),
    80: lambda e: setattr(e, "mode", "isolate"),
    100: lambda e: e.set_conditioning(gain_conditioning(0.1)),
    120: lambda e: setattr(e, "mix", 0.3),
    121: lambda e: setattr(e, "mode", "remove"),  # while the mix ramp still runs
    122: lambda e: e.set_conditioning(gain_conditioning(1.0)),
}


@pytest.mark.parametrize("stereo", ["per_channel", "shared"])
def test_parameter_changes_are_click_free(gain_model, stereo):
    x = _sine(150 * BLOCK)
    engine = StreamingSeparator(gain_model, conditioning=gain_conditioning(1.0), stereo=stereo)
    y = _run(engine, x, dict(CHANGES))
    assert np.all(np.isfinite(y))
    # a click is a sample step larger than the signal's own steepest step
    assert _max_step(y) <= 1.05 * _max_step(x)


def test_without_ramps_the_same_changes_do_click(gain_model):
    """The check above can fail: with ramp_seconds=0 a mode switch jumps."""
    x = _sine(100 * BLOCK)
    engine = StreamingSeparator(gain_model, conditioning=gain_conditioning(1.0), ramp_seconds=0.0)
    y = _run(engine, x, {60: lambda e: setattr(e, "mode", "remove")})
    assert _max_step(y) > 3 * _max_step(x)


def test_parameters_reach_their_targets(gain_model):
    x = _sine(120 * BLOCK)
    engine = StreamingSeparator(gain_model, conditioning=gain_conditioning(1.0))
    L = engine.latency_samples
    y = _run(
        engine,
        x,
        {
            10: lambda e: e.set_conditioning(gain_conditioning(0.25), crossfade_seconds=0.05),
            40: lambda e: setattr(e, "mix", 0.5),
            70: lambda e: setattr(e, "mode", "remove"),
        },
    )
    delayed = np.zeros_like(x)
    delayed[:, L:] = x[:, :-L]

    def seg(block):  # a stretch of output well after the change settled
        return slice(block * BLOCK, (block + 8) * BLOCK)

    np.testing.assert_allclose(y[:, seg(30)], 0.25 * delayed[:, seg(30)], atol=1e-5)
    np.testing.assert_allclose(y[:, seg(60)], (0.5 + 0.5 * 0.25) * delayed[:, seg(60)], atol=1e-5)
    np.testing.assert_allclose(y[:, seg(100)], (1 - 0.5 * 0.25) * delayed[:, seg(100)], atol=1e-5)
    assert engine.mode == "remove" and engine.mix == 0.5
    np.testing.assert_array_equal(engine.conditioning, gain_conditioning(0.25))


def test_mix_zero_is_the_exact_delayed_input(identity_model):
    x = _sine(40 * BLOCK)
    engine = StreamingSeparator(identity_model, mix=0.0, mode="remove")
    y = _run(engine, x, {})
    L = engine.latency_samples
    np.testing.assert_array_equal(y[:, L:], x[:, :-L])


def test_remove_with_identity_is_silence(identity_model):
    x = _sine(40 * BLOCK)
    y = _run(StreamingSeparator(identity_model, mode="remove"), x, {})
    assert np.abs(y).max() < 1e-5


class _CallLog:
    """Stands in for the core's onnxruntime session: records each call's frames and conditioning."""

    def __init__(self, core) -> None:
        self.core, self.session, self.calls = core, core.session, []

    def io_binding(self):
        return self.session.io_binding()

    def run_with_iobinding(self, binding) -> None:
        frames = next(key for key, value in self.core._bindings.items() if value is binding)
        self.calls.append((frames, self.core._conditioning.copy()))
        self.session.run_with_iobinding(binding)


def _logged_engine(gain_model, stereo: str = "per_channel") -> tuple[StreamingSeparator, _CallLog]:
    engine = StreamingSeparator(gain_model, conditioning=gain_conditioning(1.0), stereo=stereo)
    core = engine._live.core
    core.session = log = _CallLog(core)
    return engine, log


@pytest.mark.parametrize("stereo", ["per_channel", "shared"])
def test_a_preset_switch_glides_at_the_cost_of_a_steady_stream(gain_model, stereo):
    """A fade runs each of its frames once, on the conditioning interpolated frame by frame
    (no second batch: a switch costs what a steady block costs), then settles on the target."""
    engine, log = _logged_engine(gain_model, stereo)
    hop = engine.model.hop_length
    x = _sine(60 * hop)
    fade_frames = 8
    for i, start in enumerate(range(0, x.shape[1], hop)):
        if i == 20:
            engine.set_conditioning(gain_conditioning(0.0), crossfade_seconds=fade_frames * hop / SR)
        engine.process_block(x[:, start : start + hop])
    batch = engine._live.core.base_batch
    assert all(cond.shape[0] == batch and np.all(cond == cond[0]) for _, cond in log.calls)
    gains = [float(cond[0, 0]) for _, cond in log.calls]
    switch = gains.index(0.875)
    assert gains[:switch] == [1.0] * switch
    np.testing.assert_allclose(gains[switch : switch + fade_frames], 1.0 - np.arange(1, fade_frames + 1) / fade_frames)
    assert set(gains[switch + fade_frames :]) == {0.0}
    frames_run = sum(frames for frames, _ in log.calls)
    steady, _ = _logged_engine(gain_model, stereo)
    for start in range(0, x.shape[1], hop):
        steady.process_block(x[:, start : start + hop])
    assert frames_run == sum(frames for frames, _ in steady._live.core.session.calls)


def test_a_switch_during_a_fade_glides_on_from_where_it_was(gain_model):
    """A second change mid-fade starts from the conditioning reached, not from either end:
    no jump. In a large block the fade's frames run one by one, the rest as one call."""
    engine, log = _logged_engine(gain_model)
    hop = engine.model.hop_length
    x = _sine(64 * hop)
    seconds = 8 * hop / SR
    engine.process_block(x[:, : 16 * hop])
    engine.set_conditioning(gain_conditioning(0.0), crossfade_seconds=seconds)
    engine.process_block(x[:, 16 * hop : 20 * hop])  # 4 of the 8 frames: halfway, gain 0.5
    engine.set_conditioning(gain_conditioning(1.0), crossfade_seconds=seconds)
    engine.process_block(x[:, 20 * hop : 52 * hop])  # 32 frames: 8 one by one, then 24 at once
    last = log.calls[-9:]
    assert [frames for frames, _ in last] == [1] * 8 + [24]
    np.testing.assert_allclose([float(c[0, 0]) for _, c in last[:8]], 0.5 + 0.5 * np.arange(1, 9) / 8)
    assert float(last[-1][1][0, 0]) == 1.0
