"""Python interop with pedalboard: the native container's refusal names the fix, pedalboard's
attribute names, short reprs (separator, chain, preset) and the package-top imports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pedalboard
import pytest

from plugin_helpers import gain_vector, make_gain_preset, noise


def _separator(model, gain=0.5):
    from fewshot_sep import FewShotSeparator

    return FewShotSeparator(conditioning=gain_vector(gain, model.conditioning_dim), model=model)


@pytest.mark.parametrize("put_in", [
    lambda sep: pedalboard.Pedalboard([pedalboard.Gain(-3), sep]),
    lambda sep: pedalboard.Pedalboard([pedalboard.Gain(-3)]).append(sep),
    lambda sep: pedalboard.Mix([sep]),
    lambda sep: pedalboard.process(np.zeros((2, 64), np.float32), 44100, [sep]),
], ids=["Pedalboard", "append", "Mix", "process"])
def test_native_containers_refusing_a_separator_name_chain_and_the_fix(gain_model, put_in):
    with pytest.raises(TypeError) as caught:
        put_in(_separator(gain_model))
    message = str(caught.value)
    assert "fewshot_sep.Chain([...]) in place of pedalboard.Pedalboard([...])" in message
    assert "FewShotSeparator(" in message


def test_the_fix_the_message_names_runs(gain_model):
    """What the message says to write: the same list in fewshot_sep.Chain, and it processes."""
    from fewshot_sep import Chain

    x = noise(0.2, 44100, 2)
    chain = Chain([pedalboard.Gain(-6.0), _separator(gain_model)])
    np.testing.assert_allclose(chain(x, 44100), 0.5 * pedalboard.Gain(-6.0)(x, 44100), atol=1e-5)


def test_a_chain_in_a_native_board_says_to_add_the_plugins_to_the_chain(gain_model):
    from fewshot_sep import Chain

    with pytest.raises(TypeError, match=r"add the pedalboard plugins to this Chain \(chain.append\(plugin\)\)"):
        pedalboard.Pedalboard([Chain([_separator(gain_model)])])


def test_pedalboard_attribute_names(gain_model):
    from fewshot_sep import Chain

    sep = _separator(gain_model)
    chain = Chain([pedalboard.Gain(-1), sep, _separator(gain_model)])
    assert sep.reported_latency_samples == sep.latency_samples == gain_model.latency_samples
    assert chain.reported_latency_samples == chain.latency_samples == 2 * gain_model.latency_samples
    for processor in (sep, chain):
        assert processor.is_effect is True and processor.is_instrument is False
        with pytest.raises(AttributeError):  # read-only, as on pedalboard's plugins
            processor.is_effect = False
    # Same names, same meaning as a native plugin's.
    assert pedalboard.Gain(-1).is_effect is True and pedalboard.Gain(-1).is_instrument is False


def test_process_contract_is_unchanged(gain_model):
    sep = _separator(gain_model)
    x = noise(0.1, 44100, 2)
    y = sep.process(x, 44100, buffer_size=8192, reset=True)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(sep(x, 44100), y)


def test_short_reprs(tmp_path, gain_model):
    from fewshot_sep import Chain
    from fewshot_sep.presets import load_preset

    preset = load_preset(make_gain_preset(tmp_path, gain_model, 0.5, name="half bass", mode="remove", mix=0.8))
    text = repr(preset)
    assert text.startswith("<fewshot_sep.presets.Preset 'half bass':") and "default remove mix 0.8" in text
    assert len(text) < 200 and "e-" not in text and "0." not in text.replace("0.8", "")  # no embedding floats
    assert repr(preset.positive).startswith("EmbeddingSum(count=") and len(repr(preset.positive)) < 60

    sep = _separator(gain_model)
    assert repr(sep).startswith("<fewshot_sep.FewShotSeparator('conditioning', isolate, mix=1) latency_samples=")
    chain = Chain([pedalboard.Gain(-3), sep])
    assert "FewShotSeparator('conditioning', isolate, mix=1)" in repr(chain)
    assert repr(chain).count("pedalboard.Plugin") == 1  # the hint once, not per separator
    assert len(repr(chain)) < 300


def test_chain_repr_never_raises(gain_model):
    from fewshot_sep import Chain

    sep = _separator(gain_model)
    chain = Chain([sep])
    chain.append(sep)  # the same object twice: process() refuses it, repr still works
    assert "latency_samples" not in repr(chain) and "FewShotSeparator(" in repr(chain)


def test_package_top_imports_lazily():
    code = (
        "import sys, fewshot_sep\n"
        "assert 'pedalboard' not in sys.modules and 'fewshot_sep.plugin_host' not in sys.modules\n"
        "from fewshot_sep import FewShotSeparator, Chain\n"
        "from fewshot_sep.plugin_host import FewShotSeparator as F, Chain as C\n"
        "assert FewShotSeparator is F and Chain is C\n"
        "assert 'Chain' in dir(fewshot_sep)\n"
        "try:\n    fewshot_sep.Nope\nexcept AttributeError as e:\n    assert 'Nope' in str(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_the_package_top_holds_the_python_interface():
    """README's imports: the processors and chain files from `fewshot_sep` itself, the same objects."""
    import fewshot_sep
    from fewshot_sep.plugin_host.plugin import chain, chain_file, separator

    assert fewshot_sep.FewShotSeparator is separator.FewShotSeparator
    assert fewshot_sep.Chain is chain.Chain
    assert (fewshot_sep.save_chain, fewshot_sep.load_chain) == (chain_file.save_chain, chain_file.load_chain)
    assert set(fewshot_sep.__all__) <= set(dir(fewshot_sep))
