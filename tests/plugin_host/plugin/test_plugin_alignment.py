"""FewShotSeparator.process(reset=True): same length, time-aligned, any rate x buffer size x channels.

The identity model double (mask = 1) must return its input. At the model rate
(44.1 kHz) the only error is float32 STFT round-off: checked with white noise at
1e-5. At other rates the engine resamples to 44.1 kHz and back with its polyphase resampler ("HQ");
its passband is flat to far above the test tones (<= 3.5 kHz, faded in and out
so they stay band-limited), where the round trip is accurate to ~1e-6, so 1e-5
is a tight bound that a one-sample misalignment (error ~ 0.05 for these tones)
breaks by four orders of magnitude.
"""

from __future__ import annotations

import numpy as np
import pytest

from plugin_helpers import gain_vector, noise, tapered_tones

RATES = [22050, 44100, 48000, 96000]
BUFFER_SIZES = [1, 65, 8193]
CHANNELS = [1, 2]


def _signal_seconds(buffer_size: int) -> float:
    # buffer_size 1 means one engine call per sample: keep that signal short.
    return 0.1 if buffer_size == 1 else 0.4


@pytest.fixture(scope="module")
def identity_separator(identity_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    return FewShotSeparator(conditioning=gain_vector(1.0, identity_model.conditioning_dim), model=identity_model)


@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("buffer_size", BUFFER_SIZES)
@pytest.mark.parametrize("sample_rate", RATES)
def test_identity_double_returns_input_aligned(identity_separator, sample_rate, buffer_size, channels):
    x = tapered_tones(_signal_seconds(buffer_size), sample_rate, channels, seed=buffer_size)
    y = identity_separator.process(x, sample_rate, buffer_size=buffer_size, reset=True)
    assert y.shape == x.shape
    assert y.dtype == np.float32
    assert identity_separator.latency_samples > 0  # the output really was shifted back
    np.testing.assert_allclose(y, x, atol=1e-5)


@pytest.mark.parametrize("buffer_size", BUFFER_SIZES)
def test_identity_exact_for_broadband_noise_at_model_rate(identity_separator, buffer_size):
    x = noise(_signal_seconds(buffer_size), 44100, 2, seed=7)
    y = identity_separator.process(x, 44100, buffer_size=buffer_size)
    np.testing.assert_allclose(y, x, atol=1e-5)


def test_misalignment_would_be_caught(identity_separator):
    """The tolerance above is meaningful: a one-sample shift of the tones fails it by far."""
    x = tapered_tones(0.4, 48000, 1)
    y = identity_separator.process(x, 48000)
    assert np.abs(y[:, 1:] - x[:, :-1]).max() > 1e-2


def test_latency_depends_on_rate_and_is_reported(identity_separator, identity_model):
    assert identity_separator.latency_at(44100) == identity_model.latency_samples
    identity_separator.process(np.zeros((2, 4096), np.float32), 48000)
    assert identity_separator.latency_samples == identity_separator.latency_at(48000)


def test_more_than_two_channels(identity_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    sep = FewShotSeparator(conditioning=gain_vector(0.5, identity_model.conditioning_dim), model=identity_model)
    x = noise(0.3, 44100, 5, seed=2)
    np.testing.assert_allclose(sep.process(x, 44100, buffer_size=1000), x, atol=1e-5)


def test_gain_double_scales_and_remove_mode_complements(gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    x = noise(0.3, 44100, 2, seed=4)
    sep = FewShotSeparator(conditioning=gain_vector(0.3, gain_model.conditioning_dim), model=gain_model)
    np.testing.assert_allclose(sep.process(x, 44100), 0.3 * x, atol=1e-5)
    sep.mode = "remove"
    np.testing.assert_allclose(sep.process(x, 44100), 0.7 * x, atol=1e-5)
    sep.mode, sep.mix = "isolate", 0.5
    np.testing.assert_allclose(sep.process(x, 44100), 0.5 * x + 0.5 * 0.3 * x, atol=1e-5)
