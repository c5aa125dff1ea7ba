"""Parameters preset / mode / mix: validation, preset defaults, live changes."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_helpers import gain_vector, make_gain_preset, noise


def test_preset_from_path_sets_conditioning_and_defaults(tmp_path, gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    path = make_gain_preset(tmp_path, gain_model, 0.25, name="quarter", mode="remove", mix=0.5)
    sep = FewShotSeparator(str(path), model=gain_model)
    assert sep.preset.name == "quarter" and sep.mode == "remove" and sep.mix == 0.5
    assert sep.preset_ref == str(path)
    x = noise(0.2, 44100, 2)
    # remove with mix 0.5: 0.5 * dry + 0.5 * (1 - 0.25) * dry
    np.testing.assert_allclose(sep(x, 44100), 0.5 * x + 0.5 * 0.75 * x, atol=1e-5)


def test_explicit_mode_and_mix_override_preset_defaults(tmp_path, gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    path = make_gain_preset(tmp_path, gain_model, 0.25, mode="remove", mix=0.5)
    sep = FewShotSeparator(path, mode="isolate", mix=1.0, model=gain_model)
    assert (sep.mode, sep.mix) == ("isolate", 1.0)


def test_switching_preset_changes_output(tmp_path, gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator

    sep = FewShotSeparator(make_gain_preset(tmp_path, gain_model, 0.2, name="a"), model=gain_model)
    x = noise(0.2, 44100, 1)
    np.testing.assert_allclose(sep(x, 44100), 0.2 * x, atol=1e-5)
    sep.preset = make_gain_preset(tmp_path, gain_model, 0.9, name="b")
    np.testing.assert_allclose(sep(x, 44100), 0.9 * x, atol=1e-5)


@pytest.mark.parametrize("bad", ["both", "", "ISOLATE", None])
def test_bad_mode_is_a_clear_error(gain_model, bad):
    from fewshot_sep.plugin_host import FewShotSeparator, InvalidParameter
    from fewshot_sep.utils.errors import UserError

    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    with pytest.raises(InvalidParameter, match="isolate' or 'remove") as info:
        sep.mode = bad
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "loud", float("nan")])
def test_bad_mix_is_a_clear_error(gain_model, bad):
    from fewshot_sep.plugin_host import FewShotSeparator, InvalidParameter

    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    with pytest.raises(InvalidParameter, match="0 .dry. to 1 .wet."):
        sep.mix = bad


def test_bad_buffer_size_and_sample_rate(gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator, InvalidParameter

    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    with pytest.raises(InvalidParameter, match="buffer_size 0"):
        sep.process(np.zeros((2, 100), np.float32), 44100, buffer_size=0)
    with pytest.raises(InvalidParameter, match="sample rate"):
        sep.process(np.zeros((2, 100), np.float32), -5)


def test_no_preset_is_a_clear_error(gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match="no preset"):
        FewShotSeparator(model=gain_model).process(np.zeros((2, 100), np.float32), 44100)


def test_preset_of_another_model_is_refused(tmp_path, gain_model, identity_model):
    from fewshot_sep.plugin_host import FewShotSeparator
    from fewshot_sep.utils.errors import UserError

    path = make_gain_preset(tmp_path, identity_model, 0.5)
    with pytest.raises(UserError, match="made with model"):
        FewShotSeparator(path, model=gain_model)


def test_wrong_conditioning_size_is_refused(gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator, InvalidParameter

    with pytest.raises(InvalidParameter, match="expects 33"):
        FewShotSeparator(conditioning=np.zeros(5, np.float32), model=gain_model)
