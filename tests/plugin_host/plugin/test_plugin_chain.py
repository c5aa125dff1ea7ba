"""Chain: native pedalboard plugins and separators in any order, latency-compensated."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from plugin_helpers import gain_vector, noise, tapered_tones


def _separator(model, gain=0.5):
    from fewshot_sep.plugin_host import FewShotSeparator

    return FewShotSeparator(conditioning=gain_vector(gain, model.conditioning_dim), model=model)


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_gain_separator_reverb_equals_running_them_by_hand(gain_model, sample_rate, channels):
    from fewshot_sep.plugin_host import Chain

    x = tapered_tones(0.5, sample_rate, channels)
    chain = Chain([pedalboard.Gain(gain_db=-6.0), _separator(gain_model), pedalboard.Reverb(room_size=0.4)])
    y = chain(x, sample_rate)
    assert y.shape == x.shape

    # By hand: each stage latency-compensated on its own, in order.
    by_hand = pedalboard.Gain(gain_db=-6.0)(x, sample_rate)
    by_hand = _separator(gain_model)(by_hand, sample_rate)
    by_hand = pedalboard.Reverb(room_size=0.4)(by_hand, sample_rate)
    np.testing.assert_allclose(y, by_hand, atol=1e-6)

    # And by hand with explicit compensation: the separator is a delayed gain of 0.5,
    # so un-delaying its raw stream must give the same input to the reverb.
    sep = _separator(gain_model)
    gained = pedalboard.Gain(gain_db=-6.0)(x, sample_rate)
    latency = sep.latency_at(sample_rate, channels)
    raw = sep.process(np.concatenate([gained, np.zeros((channels, latency), np.float32)], 1), sample_rate, reset=False)
    compensated = pedalboard.Reverb(room_size=0.4)(raw[:, latency:], sample_rate)
    np.testing.assert_allclose(y, compensated, atol=1e-6)


def test_streaming_chain_equals_aligned_chain_after_total_latency(gain_model):
    from fewshot_sep.plugin_host import Chain

    x = noise(0.6, 44100, 2, seed=3)
    chain = Chain([pedalboard.Gain(gain_db=-3.0), _separator(gain_model), pedalboard.LowpassFilter(5000),
                   _separator(gain_model, 0.8), pedalboard.Compressor(threshold_db=-20, ratio=3)])
    aligned = chain(x, 44100)
    chain.reset()
    streamed = np.concatenate(
        [chain.process(x[:, i : i + 3000], 44100, reset=False) for i in range(0, x.shape[1], 3000)], axis=1
    )
    latency = chain.latency_samples
    assert latency == 2 * gain_model.latency_samples  # two separators, zero-latency natives
    np.testing.assert_allclose(streamed[:, latency:], aligned[:, : x.shape[1] - latency], atol=1e-5)


def test_consecutive_native_plugins_run_as_one_board(gain_model):
    from fewshot_sep.plugin_host import Chain

    chain = Chain([pedalboard.Gain(), pedalboard.HighpassFilter(), _separator(gain_model),
                   pedalboard.Pedalboard([pedalboard.Reverb(), pedalboard.Chorus()]), pedalboard.Limiter()])
    assert chain.num_native_boards == 2
    x = noise(0.2, 44100, 2)
    assert chain(x, 44100).shape == x.shape


def test_latent_native_plugin_is_retimed_when_streaming(gain_model):
    """Resample has latency in pedalboard (it returns fewer samples at first): still aligned."""
    from fewshot_sep.plugin_host import Chain

    x = tapered_tones(1.0, 44100, 2)
    # Resample first: its interpolation is not shift-invariant, so it must see the same
    # signal timing in both runs (after the separator it would see a delayed one).
    chain = Chain([pedalboard.Resample(target_sample_rate=32000), _separator(gain_model)])
    aligned = chain(x, 44100)
    chain.reset()
    streamed = np.concatenate(
        [chain.process(x[:, i : i + 4000], 44100, reset=False) for i in range(0, x.shape[1], 4000)], axis=1
    )
    latency = chain.latency_samples
    assert latency > gain_model.latency_samples
    np.testing.assert_allclose(streamed[:, latency:], aligned[:, : x.shape[1] - latency], atol=1e-5)
    assert chain.dropouts == 0


def test_pitchshift_cannot_stream_and_says_so(gain_model):
    from fewshot_sep.plugin_host import Chain, InvalidParameter

    chain = Chain([pedalboard.PitchShift(semitones=2), _separator(gain_model)])
    x = noise(0.2, 44100, 2)
    assert chain(x, 44100).shape == x.shape  # fine in memory
    with pytest.raises(InvalidParameter, match="PitchShift cannot be streamed"):
        chain.process(x, 44100, reset=False)


def test_chain_rejects_non_plugins_and_duplicates(gain_model):
    from fewshot_sep.plugin_host import Chain, InvalidParameter

    with pytest.raises(InvalidParameter, match="holds pedalboard plugins"):
        Chain([pedalboard.Gain(), "Reverb"])
    gain = pedalboard.Gain()
    with pytest.raises(InvalidParameter, match="twice"):
        Chain([gain, _separator(gain_model), gain])(noise(0.1, 44100, 2), 44100)


def test_chain_keeps_layout(gain_model):
    from fewshot_sep.plugin_host import Chain

    chain = Chain([pedalboard.Gain(gain_db=0.0), _separator(gain_model)])
    x = noise(0.2, 44100, 2)
    np.testing.assert_array_equal(chain(x.T.copy(), 44100), chain(x, 44100).T)
    assert chain(x[0], 44100).ndim == 1


def test_growing_stream_calls_do_not_reset_native_plugins(gain_model):
    """pedalboard resets a plugin when a call is longer than any before; the chain splits such calls."""
    from fewshot_sep.plugin_host import Chain

    def make_chain():
        return Chain([pedalboard.LowpassFilter(cutoff_frequency_hz=1500), _separator(gain_model),
                      pedalboard.Reverb(room_size=0.3)])

    x = noise(0.2, 44100, 2, seed=12)
    aligned = make_chain()(x, 44100)
    chain = make_chain()  # fresh: never prepared for a long block by a reset=True call
    bounds = np.cumsum([0, 1000, 1000, 1700, 3000])  # calls growing after the first one
    pieces = [chain.process(x[:, a:b], 44100, reset=False) for a, b in zip(bounds[:-1], bounds[1:])]
    pieces.append(chain.process(x[:, bounds[-1]:], 44100, reset=False))  # the rest, 2120
    streamed = np.concatenate(pieces, axis=1)
    latency = chain.latency_samples
    np.testing.assert_allclose(streamed[:, latency:], aligned[:, : x.shape[1] - latency], atol=1e-5)
