"""process(reset=False) streams: same length per call, output delayed by latency_samples.

Streaming a signal in uneven chunks and dropping the first latency_samples must
give the reset=True (latency-compensated) result, for any chunk pattern.
"""

from __future__ import annotations

import numpy as np
import pytest

from plugin_helpers import gain_vector, noise


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("chunk", [1, 100, 8193])
def test_streamed_chunks_equal_aligned_output_after_latency(identity_model, sample_rate, chunk):
    from fewshot_sep.plugin_host import FewShotSeparator

    sep = FewShotSeparator(conditioning=gain_vector(0.5, identity_model.conditioning_dim), model=identity_model)
    # With chunk 1 every call is a [2, 1] block: like pedalboard, the previous call's
    # channel count says it is one stereo sample (the very first call has no hint and
    # would read as 2 mono samples, so the stream is started with a longer block).
    x = noise(0.15 if chunk == 1 else 0.5, sample_rate, 2, seed=chunk)
    aligned = sep.process(x, sample_rate, reset=True)
    sep.reset()
    pieces = [sep.process(x[..., :100], sample_rate, reset=False)]
    for start in range(100, x.shape[-1], chunk):
        piece = sep.process(x[..., start : start + chunk], sample_rate, buffer_size=chunk, reset=False)
        assert piece.shape == x[..., start : start + chunk].shape
        pieces.append(piece)
    streamed = np.concatenate(pieces, axis=-1)
    latency = sep.latency_samples
    n = x.shape[-1]
    assert 0 < latency < n
    # Start-up silence (the resampler's linear-phase filter rings up to ~100 samples
    # before the aligned onset at 48 kHz, so check the first half of the latency).
    np.testing.assert_allclose(streamed[..., : latency // 2], 0.0, atol=1e-7)
    np.testing.assert_allclose(streamed[..., latency:], aligned[..., : n - latency], atol=1e-5)


def test_reset_true_after_streaming_starts_fresh(gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    x = noise(0.2, 44100, 2, seed=1)
    fresh = sep.process(x, 44100)
    sep.process(noise(0.3, 44100, 2, seed=9), 44100, reset=False)  # leave state behind
    np.testing.assert_array_equal(sep.process(x, 44100, reset=True), fresh)


def test_changing_rate_or_channels_rebuilds_the_engine(gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    sep.process(noise(0.1, 44100, 2), 44100)
    first = sep.engine_for(44100, 2)
    sep.process(noise(0.1, 48000, 2), 48000)
    assert sep.engine_for(48000, 2) is not first
    y = sep.process(noise(0.1, 48000, 1, seed=3), 48000)
    assert y.shape[0] == 1


def test_latency_at_another_rate_does_not_break_the_stream(identity_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    sep = FewShotSeparator(conditioning=gain_vector(1.0, identity_model.conditioning_dim), model=identity_model)
    x = noise(0.3, 44100, 2, seed=8)
    first = sep.process(x[:, :5000], 44100, reset=False)
    assert sep.latency_at(48000) > sep.latency_at(44100) == identity_model.latency_samples
    rest = sep.process(x[:, 5000:], 44100, reset=False)
    streamed = np.concatenate([first, rest], axis=1)
    latency = sep.latency_samples
    np.testing.assert_allclose(streamed[:, latency:], x[:, :-latency], atol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_parameter_changes_mid_stream_match_the_live_engine(gain_model, threads):
    """process(reset=False) runs the engine's offline path; mix, mode and preset changes between
    calls reach it as they reach the live path (process_block on the same calls)."""
    from fewshot_sep.plugin_host import FewShotSeparator
    from fewshot_sep.realtime.engine import StreamingSeparator

    dim = gain_model.conditioning_dim
    sep = FewShotSeparator(conditioning=gain_vector(0.5, dim), model=gain_model)
    sep.threads = threads
    live = StreamingSeparator(gain_model, 44100, 2, gain_vector(0.5, dim))
    x = noise(1.0, 44100, 2, seed=4)
    x[1] *= 0.3
    changes = {1: ("mix", 0.3), 2: ("conditioning", gain_vector(0.9, dim)), 3: ("mode", "remove")}
    ours, theirs = [], []
    for i, start in enumerate(range(0, x.shape[1], 9000)):
        if i in changes:
            name, value = changes[i]
            if name == "conditioning":
                sep.conditioning = value
                live.set_conditioning(value)
            else:
                setattr(sep, name, value)
                setattr(live, name, value)
        chunk = x[:, start : start + 9000]
        ours.append(sep.process(chunk, 44100, reset=False))
        theirs.append(np.concatenate([live.process_block(chunk[:, a : a + 4500]) for a in (0, 4500)], axis=1))
    np.testing.assert_allclose(np.concatenate(ours, axis=1), np.concatenate(theirs, axis=1), atol=1e-6)
