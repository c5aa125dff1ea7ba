"""LiveHost without an audio device: the callback, key commands, status and summary."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest

from plugin_helpers import gain_vector, make_gain_preset, noise


class _Status(SimpleNamespace):
    def __bool__(self):
        return any(vars(self).values())


def _status(**set_flags):
    names = ("input_overflow", "input_underflow", "output_overflow", "output_underflow", "priming_output")
    return _Status(**{n: set_flags.get(n, False) for n in names})


@pytest.fixture
def host(gain_model):
    from fewshot_sep.plugin_host.live.host import LiveHost

    vectors = [gain_vector(0.5, gain_model.conditioning_dim), gain_vector(0.2, gain_model.conditioning_dim)]
    host = LiveHost(vectors, model=gain_model, samplerate=44100, blocksize=256, channels=2, out=io.StringIO())
    # What start() does, minus the audio device.
    host.sample_rate = 44100
    host.engine = host.separator.engine_for(44100, 2)
    host.engine.reset()
    return host


def _run_blocks(host, x, block=256):
    """Drive the callback like PortAudio does: [frames, channels] buffers."""
    out = np.zeros_like(x.T)
    for start in range(0, x.shape[1], block):
        indata = np.ascontiguousarray(x[:, start : start + block].T)
        outdata = np.empty_like(indata)
        host.audio.portaudio_callback(indata, outdata, indata.shape[0], None, _status())
        out[start : start + block] = outdata
    return out.T


def test_callback_runs_the_engine_with_its_latency(host):
    x = noise(0.5, 44100, 2)
    y = _run_blocks(host, x)
    latency = host.latency_samples
    np.testing.assert_allclose(y[:, latency:], 0.5 * x[:, :-latency], atol=1e-5)
    assert host.audio.callbacks == -(-x.shape[1] // 256) and host.audio.errors == 0
    assert 0 < host.audio.max_load


def test_callback_never_raises_and_passes_input_through(host):
    class Broken:
        latency_samples = 0

        def process_block(self, block, out=None):
            raise RuntimeError("model exploded")

    host.engine = Broken()
    indata = noise(0.01, 44100, 2).T[:256].copy()
    outdata = np.zeros_like(indata)
    host.audio.portaudio_callback(indata, outdata, 256, None, _status())  # must not raise
    np.testing.assert_array_equal(outdata, indata)
    assert host.audio.errors == 1 and "model exploded" in host.audio.last_error
    assert "errors 1" in host.status_text()


def test_status_flags_are_counted_as_xruns(host):
    block = np.zeros((256, 2), np.float32)
    host.audio.portaudio_callback(block, block.copy(), 256, None, _status(output_underflow=True))
    host.audio.portaudio_callback(block, block.copy(), 256, None, _status(input_overflow=True, output_underflow=True))
    host.audio.portaudio_callback(block, block.copy(), 256, None, _status(priming_output=True))  # not an xrun
    assert host.audio.xruns == 3 and host.audio.output_underflows == 2 and host.audio.input_overflows == 1
    assert len(host.audio.xrun_times_s) == 2


def test_keys_switch_preset_mode_mix_and_bypass(host):
    x = noise(0.3, 44100, 2, seed=2)
    latency = host.latency_samples
    assert host.handle_key("2") and host.preset_index == 1
    host.engine.set_conditioning(host.separator.conditioning, crossfade_seconds=0.0)
    assert host.handle_key("m") and host.separator.mode == "remove"
    assert host.handle_key("-") and host.mix == pytest.approx(0.9)
    assert host.handle_key("b") and host.bypass and host.separator.mix == 0.0
    assert host.handle_key("b") and not host.bypass and host.separator.mix == pytest.approx(0.9)
    host.engine.reset()  # settle ramps before measuring
    y = _run_blocks(host, x)
    # remove with preset 2 (gain 0.2) at mix 0.9: 0.1 * dry + 0.9 * 0.8 * dry
    np.testing.assert_allclose(y[:, latency:], (0.1 + 0.9 * 0.8) * x[:, :-latency], atol=1e-5)
    assert host.handle_key("n") and host.preset_index == 0
    assert host.handle_key("p") and host.preset_index == 1
    assert host.handle_key("9") and host.preset_index == 1  # no 9th preset: ignored
    assert host.handle_key("q") is False


def test_presets_by_reference_and_their_defaults(tmp_path, gain_model):
    from fewshot_sep.plugin_host.live.host import LiveHost

    path = make_gain_preset(tmp_path, gain_model, 0.4, name="bass", mode="remove", mix=0.7)
    host = LiveHost([str(path)], model=gain_model, out=io.StringIO())
    assert host.separator.mode == "remove" and host.mix == 0.7
    assert "'bass'" in host.status_text()


@pytest.mark.parametrize("kwargs, message", [({"blocksize": 9000}, "block size 9000"), ({"channels": 0}, "channel count 0")])
def test_bad_settings_are_user_errors(gain_model, kwargs, message):
    from fewshot_sep.plugin_host.live.host import LiveHost
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match=message):
        LiveHost([gain_vector(0.5, gain_model.conditioning_dim)], model=gain_model, **kwargs)


def test_summary_text(host):
    _run_blocks(host, noise(0.1, 44100, 2))
    text = host.stop().text()
    assert "callbacks" in text and "xruns: 0" in text and "errors in the audio callback: 0" in text


@pytest.mark.parametrize("kind", ["sleeping", "computing"])
def test_overruns_are_split_into_waiting_and_computing(host, kind):
    import time

    period = 256 / 44100

    class Slow:
        latency_samples = 0
        nonfinite_outputs = 0

        def process_block(self, block, out=None):
            if kind == "sleeping":  # the thread is off the CPU, blocked (as on a lock or the GIL)
                time.sleep(1.5 * period)
            else:  # the thread burns the CPU itself: 1.5 periods of its own CPU time, however loaded the machine
                end = time.thread_time() + 1.5 * period
                while time.thread_time() < end:
                    pass
            out[:] = block

    host.engine = Slow()
    block = noise(0.01, 44100, 2).T[:256].copy()
    host.audio.portaudio_callback(block, np.zeros_like(block), 256, None, _status())
    assert host.audio.overruns == 1
    assert host.audio.waiting_overruns == (1 if kind == "sleeping" else 0)
    # The overrun's start time, load, CPU load and context switches are kept (preallocated;
    # benchmarks match them): a sleep is the thread giving up its CPU, a voluntary switch.
    [(start, load, cpu_load, voluntary, involuntary, faults, kernel_load)] = host.audio.overrun_log
    assert abs(start - time.perf_counter()) < 10.0 and load >= 1.0
    assert (cpu_load < 0.5) == (kind == "sleeping") and cpu_load <= load + 0.05
    assert involuntary >= 0 and (kind == "computing" or voluntary >= 1)
    assert faults >= 0 and 0.0 <= kernel_load <= load + 0.05
    host.audio.reset_counters()
    assert host.audio.overrun_log == []


def test_start_warms_up_the_crossfade_before_real_time(gain_model):
    """start() runs the engine through a crossfade's one-frame calls before the stream starts,
    so the first preset switch in the callback makes no onnxruntime binding (no first-time work)."""
    from fewshot_sep.plugin_host.live_host import LiveHost

    vectors = [gain_vector(0.5, gain_model.conditioning_dim), gain_vector(0.2, gain_model.conditioning_dim)]
    host = LiveHost(vectors, model=gain_model, samplerate=44100, blocksize=256, channels=2, out=io.StringIO())

    class Stream:  # what start() needs of PortAudioStream, without a device
        kind, running, blocksize, device_latency_s = "portaudio", False, 256, 0.0

        def prepare(self):
            return 44100, 256

        def start(self, audio, rate, on_failure):
            self.running = True
            core = audio.engine._live.core
            self.bindings_at_start = set(core._bindings)
            self.crossfading_at_start = core._fading

        def stop(self):
            self.running = False

    host.stream = Stream()
    host.start()
    try:
        assert 1 in host.stream.bindings_at_start  # a fade's one-frame call
        assert not host.stream.crossfading_at_start  # warm-up left no fade running
        before = set(host.engine._live.core._bindings)
        host.handle_key("n")
        _run_blocks(host, noise(0.2, 44100, 2))
        assert set(host.engine._live.core._bindings) == before
        assert host.audio.errors == 0
    finally:
        host.stop()


def test_overrun_log_keeps_the_first_overruns_without_allocating():
    import time

    from fewshot_sep.plugin_host.live.audio import OVERRUNS_KEPT, LiveAudio

    audio = LiveAudio()
    audio.sample_rate = 48000
    log = audio._overrun_log
    for _ in range(OVERRUNS_KEPT + 10):  # callbacks that started a second ago: load ~188
        audio._count(time.perf_counter() - 1.0, time.thread_time(), (0, 0, 0, 0.0), 256)
    assert audio.overruns == OVERRUNS_KEPT + 10 and audio._overrun_log is log
    kept = audio.overrun_log
    assert len(kept) == OVERRUNS_KEPT and all(load > 100 and cpu < 0.5 for _, load, cpu, *_ in kept)
    assert audio.waiting_overruns == OVERRUNS_KEPT + 10
