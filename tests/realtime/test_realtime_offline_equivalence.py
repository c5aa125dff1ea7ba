"""process_offline == streaming through a freshly reset engine, for awkward block sizes."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.realtime.engine import StreamingSeparator
from model_doubles import gain_conditioning


def _noise(channels: int, n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, n)) * 0.2).astype(np.float32)


def _stream(engine: StreamingSeparator, x: np.ndarray, sizes) -> np.ndarray:
    out, pos = [], 0
    for size in sizes:
        block = x[:, pos : pos + size]
        # process_block takes at most 8192 samples: a larger host block is split in two calls
        for start in range(0, block.shape[1], engine.max_block_size):
            out.append(engine.process_block(block[:, start : start + engine.max_block_size]))
        pos += size
        if pos >= x.shape[1]:
            break
    return np.concatenate(out, axis=1)


def _engine(model, **kw):
    return StreamingSeparator(model, conditioning=gain_conditioning(0.6), mode="remove", mix=0.8, **kw)


@pytest.mark.parametrize("block", [1, 64, 65, 256, 512, 8193])
def test_fixed_block_sizes(gain_model, block):
    engine = _engine(gain_model, offline_chunk_frames=50)
    x = _noise(2, 5000 if block == 1 else 30000, seed=block)
    streamed = _stream(engine, x, [block] * (x.shape[1] // block + 1))
    offline = engine.process_offline(x)
    assert streamed.shape == offline.shape == x.shape
    assert np.abs(streamed - offline).max() < 1e-4
    # and it is really processed: (1 - 0.8 * 0.6) * dry, delayed
    L = engine.latency_samples
    np.testing.assert_allclose(offline[:, L:], 0.52 * x[:, :-L], atol=1e-5)


@pytest.mark.parametrize("rate, stereo", [(44100, "per_channel"), (44100, "shared"), (48000, "per_channel")])
def test_random_varying_sizes(gain_model, rate, stereo):
    engine = _engine(gain_model, sample_rate=rate, stereo=stereo)
    x = _noise(2, 60000, seed=7)
    sizes = np.random.default_rng(3).integers(0, 3000, size=200)
    sizes[::17] = 8192
    streamed = _stream(engine, x, sizes)
    offline = engine.process_offline(x)
    assert np.abs(streamed - offline).max() < 1e-4
    # offline leaves the live stream alone: continuing the stream still matches
    engine.reset()
    again = _stream(engine, x, sizes[::-1])
    assert np.abs(again - offline).max() < 1e-4


def test_iter_offline_chunks_and_align(gain_model):
    engine = _engine(gain_model, offline_chunk_frames=40)
    x = _noise(2, 40000, seed=11)
    whole = engine.process_offline(x)
    chunks = [x[:, i : i + 7777] for i in range(0, x.shape[1], 7777)]
    seen = []
    parts = list(engine.iter_offline(iter(chunks), total_samples=x.shape[1], progress=lambda d, t: seen.append((d, t))))
    assert [p.shape[1] for p in parts] == [c.shape[1] for c in chunks]
    assert np.abs(np.concatenate(parts, axis=1) - whole).max() < 1e-4
    assert seen[-1] == (x.shape[1], x.shape[1])
    aligned = engine.process_offline(x, align=True)
    np.testing.assert_allclose(aligned, 0.52 * x, atol=1e-5)


def test_dummy_state_is_fed_back(identity_model):
    engine = StreamingSeparator(identity_model, num_channels=2)
    for size in (100, 300, 1000, 7):
        engine.process_block(np.zeros((2, size), dtype=np.float32))
    # the double's state_0_out = state_0 + frames in the call: after 1407 samples, 1407 // 256 frames
    states = engine._live.core._states_in[0]
    np.testing.assert_array_equal(states[:2], np.full((2, 4), 1407 // 256, dtype=np.float32))
    engine.reset()
    assert not engine._live.core._states_in[0].any()


@pytest.mark.parametrize("rate", [44100, 48000])
def test_threaded_channels_equal_one_session(gain_model, rate):
    """offline_threads >= 2 runs each channel in its own thread; the result equals the one-session path and streaming."""
    x = _noise(2, 40000, seed=13)
    x[1] *= 0.3  # different channels, so a channel mix-up would show
    threaded = _engine(gain_model, sample_rate=rate, offline_threads=2, offline_chunk_frames=30)
    single = _engine(gain_model, sample_rate=rate, offline_threads=1, offline_chunk_frames=30)
    assert threaded._offline_split_channels() and not single._offline_split_channels()
    a, b = threaded.process_offline(x), single.process_offline(x)
    assert len(threaded._offline_pipelines()) == 2 and len(single._offline_pipelines()) == 1
    assert np.abs(a - b).max() < 1e-4
    streamed = _stream(threaded, x, [256] * (x.shape[1] // 256 + 1))
    assert np.abs(a - streamed).max() < 1e-4
