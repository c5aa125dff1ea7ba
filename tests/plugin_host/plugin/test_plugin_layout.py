"""Channel layout and dtype handling of process(), mirroring pedalboard.

pedalboard: 1-D input is mono; the smaller dimension of a 2-D array is the
channel dimension and the output comes back in the input's layout; float64 is
converted to float32; a square array reuses the last detected layout and is an
error before any layout was seen; reset() forgets the layout.
"""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from plugin_helpers import gain_vector, noise


@pytest.fixture
def separator(gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    return FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)


def test_channels_first_and_last_give_the_same_audio(separator):
    x = noise(0.2, 44100, 2, seed=1)
    first = separator.process(x, 44100)
    last = separator.process(np.ascontiguousarray(x.T), 44100)
    assert first.shape == x.shape and last.shape == x.T.shape
    np.testing.assert_array_equal(first, last.T)
    np.testing.assert_allclose(first, 0.5 * x, atol=1e-5)


def test_one_dimensional_input_is_mono_and_stays_1d(separator):
    x = noise(0.2, 44100, 1, seed=2)[0]
    y = separator.process(x, 44100)
    assert y.ndim == 1 and y.shape == x.shape
    np.testing.assert_allclose(y, 0.5 * x, atol=1e-5)


def test_float64_input_gives_float32_output(separator):
    x = noise(0.2, 44100, 2, seed=3).astype(np.float64)
    y = separator.process(x, 44100)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, 0.5 * x, atol=1e-5)


def test_call_is_process(separator):
    x = noise(0.1, 44100, 2, seed=4)
    np.testing.assert_array_equal(separator(x, 44100), separator.process(x, 44100))


def test_square_array_uses_last_layout_and_fails_without_one(separator):
    square = noise(0.1, 44100, 2, seed=5)[:, :2]
    with pytest.raises(ValueError, match="square"):
        separator.process(square, 44100)
    separator.process(noise(0.1, 44100, 2).T, 44100)  # now [samples, channels] is remembered
    assert separator.process(square, 44100).shape == (2, 2)
    separator.reset()
    with pytest.raises(ValueError, match="square"):
        separator.process(square, 44100)


def test_pedalboard_agrees_on_layouts():
    """The same rules hold for a native pedalboard plugin (the behaviour we mirror)."""
    gain = pedalboard.Gain(gain_db=0.0)
    x = noise(0.1, 44100, 2, seed=6)
    assert gain(x, 44100).shape == x.shape
    assert gain(x.T.copy(), 44100).shape == x.T.shape
    assert gain(x[0], 44100).ndim == 1
    assert gain(x.astype(np.float64), 44100).dtype == np.float32
    with pytest.raises(RuntimeError):
        pedalboard.Gain()(np.zeros((3, 3), np.float32), 44100)


def test_three_dimensional_input_is_refused(separator):
    with pytest.raises(ValueError, match="dimensions"):
        separator.process(np.zeros((1, 2, 100), np.float32), 44100)


def test_previous_channel_count_disambiguates_tiny_blocks(separator):
    """pedalboard's hint: after a stereo call, a [2, 1] block is one stereo sample."""
    x = noise(0.1, 44100, 2, seed=8)
    separator.process(x, 44100, reset=False)
    assert separator.process(x[:, :1], 44100, reset=False).shape == (2, 1)
    assert separator.engine_for(44100, 2) is separator.engine_for(44100, 2)  # still the stereo engine
    separator.reset()
    with pytest.raises(ValueError, match="square"):
        separator.process(x[:, :2], 44100)


def test_pedalboard_uses_the_same_hint():
    import pedalboard

    x = noise(0.05, 44100, 2, seed=9)
    one_shot = pedalboard.LowpassFilter(2000)(x, 44100)
    plugin = pedalboard.LowpassFilter(2000)
    first = plugin.process(x[:, :-1], 44100, reset=False)
    last = plugin.process(x[:, -1:], 44100, reset=False)  # [2, 1]: read as stereo
    np.testing.assert_array_equal(np.concatenate([first, last], axis=1), one_shot)
