"""The live path allocates no audio-sized buffers in steady state and does not leak."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from fewshot_sep.realtime.engine import StreamingSeparator


@pytest.mark.parametrize("rate", [44100, 48000])
def test_steady_state_memory(identity_model, rate):
    block = 512
    engine = StreamingSeparator(identity_model, sample_rate=rate, num_channels=2)
    x = (np.random.default_rng(0).standard_normal((2, 400 * block)) * 0.1).astype(np.float32)
    out = np.zeros((2, block), dtype=np.float32)
    for i in range(50):  # warm-up: onnxruntime bindings are created on first use
        engine.process_block(x[:, i * block : (i + 1) * block], out=out)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(50, 150):
            engine.process_block(x[:, i * block : (i + 1) * block], out=out)
        after_100 = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for i in range(150, 400):
            engine.process_block(x[:, i * block : (i + 1) * block], out=out)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # no growth over 250 more blocks (a leak of one block per call would be 1 MB)
    assert current - after_100 < 16 * 1024
    # transient allocations stay far below one STFT frame buffer per block
    # (what remains are numpy's fixed-size ufunc casting buffers)
    assert peak - base < 256 * 1024


def test_jack_process_callback_adds_no_audio_sized_allocation():
    """live --jack's process callback around the engine: port copies, meters, counters (fake ports)."""
    from fewshot_sep.plugin_host.live.audio import LiveAudio
    from fewshot_sep.plugin_host.live.jack import JackStream

    frames = 256

    class Port:
        def __init__(self, value):
            self.array = np.full(frames, value, dtype=np.float32)

        def get_array(self):
            return self.array

    class CopyEngine:  # allocation-free, so what is measured is the callback around it
        latency_samples = 0
        nonfinite_outputs = 0

        def process_block(self, block, out=None):
            np.copyto(out, block)
            return out

    audio = LiveAudio()
    audio.engine, audio.sample_rate = CopyEngine(), 48000
    stream = JackStream(channels=2)
    stream.audio, stream.inports, stream.outports = audio, [Port(0.25), Port(-0.5)], [Port(0.0), Port(0.0)]
    stream._allocate(frames)
    for _ in range(50):
        stream._process(frames)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(500):
            stream._process(frames)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert audio.errors == 0 and audio.callbacks == 550
    np.testing.assert_array_equal(stream.outports[1].array, -0.5)  # the input went through
    assert current - base < 1024  # nothing kept per call
    assert peak - base < 2 * frames * 4  # transient: less than one block of audio


@pytest.mark.parametrize("rate", [44100, 48000])
def test_warm_up_prepares_the_crossfade_and_leaves_no_trace(gain_model, rate):
    """warm_up runs the one-frame calls of a preset crossfade beside the block's own, then
    resets: a crossfade afterwards makes no new onnxruntime binding (nothing first-time in the
    callback) and the output is a fresh engine's, sample for sample."""
    from plugin_helpers import gain_vector, noise

    dim = gain_model.conditioning_dim
    first, second = gain_vector(0.5, dim), gain_vector(0.2, dim)
    warm = StreamingSeparator(gain_model, sample_rate=rate, num_channels=2, conditioning=first)
    fresh = StreamingSeparator(gain_model, sample_rate=rate, num_channels=2, conditioning=first)
    warm.warm_up(256)
    core = warm._live.core
    prepared = set(core._bindings)
    assert 1 in prepared  # the fade's one-frame call
    x = noise(0.5, rate, 2)
    for engine in (warm, fresh):
        out = np.zeros_like(x)
        for i, start in enumerate(range(0, x.shape[1], 256)):
            if i == 20:
                engine.set_conditioning(second)
            engine.process_block(x[:, start : start + 256], out=out[:, start : start + 256])
        engine.result = out
    assert set(core._bindings) == prepared
    np.testing.assert_array_equal(warm.result, fresh.result)
    assert warm.nonfinite_blocks == warm.nonfinite_outputs == 0
    assert warm.mode == fresh.mode and warm.mix == fresh.mix
    np.testing.assert_array_equal(warm.conditioning, second)
