"""Chains saved to / loaded from JSON: round trip, allow-list, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pedalboard
import pytest

from plugin_helpers import make_gain_preset, noise


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def test_round_trip_gives_the_same_processing(tmp_path, gain_model):
    from fewshot_sep.plugin_host import Chain, FewShotSeparator, load_chain, save_chain

    preset = make_gain_preset(tmp_path, gain_model, 0.4)
    chain = Chain([
        pedalboard.HighpassFilter(cutoff_frequency_hz=60),
        FewShotSeparator(str(preset), mode="remove", mix=0.8, model=gain_model),
        pedalboard.Pedalboard([pedalboard.Compressor(threshold_db=-12, ratio=2.5)]),
        pedalboard.LadderFilter(mode=pedalboard.LadderFilter.Mode.HPF12, cutoff_hz=120),
        pedalboard.Reverb(room_size=0.3, wet_level=0.2),
    ])
    path = save_chain(chain, tmp_path / "sub" / "chain.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "fewshot-sep-chain" and doc["format_version"] == 1
    assert doc["plugins"][1] == {"type": "FewShotSeparator", "preset": "../gain.json", "mode": "remove", "mix": 0.8}
    assert doc["plugins"][3]["mode"] == "HPF12"
    assert doc["plugins"][4]["wet_level"] == 0.2  # float32 written as its short form

    loaded = load_chain(path, model=gain_model)
    assert [type(p).__name__ for p in loaded] == [type(p).__name__ for p in chain]
    x = noise(0.3, 44100, 2)
    np.testing.assert_allclose(loaded(x, 44100), chain(x, 44100), atol=1e-6)


def test_separator_without_preset_takes_the_default(tmp_path, gain_model):
    from fewshot_sep.plugin_host import load_chain
    from fewshot_sep.utils.errors import UserError

    path = _write(tmp_path / "c.json", {"plugins": [{"type": "Gain", "gain_db": 0}, {"type": "FewShotSeparator"}]})
    preset = make_gain_preset(tmp_path, gain_model, 0.5)
    chain = load_chain(path, model=gain_model, default_preset=str(preset), mode_override="remove")
    assert chain[1].preset.name == "gain" and chain[1].mode == "remove"
    with pytest.raises(UserError, match="names no preset"):
        load_chain(path, model=gain_model)


@pytest.mark.parametrize(
    "plugin, message",
    [
        ({"type": "Fuzzinator"}, "unknown plugin type 'Fuzzinator': valid types are FewShotSeparator, Pedalboard, Bitcrush"),
        ({"type": "Gain", "gain": 3}, "unknown Gain parameter 'gain': valid are \\['gain_db'\\]"),
        ({"type": "Gain", "gain_db": "loud"}, "Gain.gain_db = 'loud' must be a number"),
        ({"type": "Reverb", "room_size": 7}, "invalid Reverb parameters"),
        ({"type": "LadderFilter", "mode": "LPF99"}, "LadderFilter.mode = 'LPF99' is invalid: use one of"),
        ({"type": "FewShotSeparator", "preset": "x.json", "wet": 1}, "unknown FewShotSeparator parameter"),
        ({"type": "Pedalboard", "plugins": [{"type": "FewShotSeparator"}]}, "nested Pedalboard holds native"),
        ({"type": "Convolution"}, "needs 'impulse_response_filename'"),
        ("Gain", "each plugin must be an object"),
    ],
)
def test_bad_plugins_are_clear_user_errors(tmp_path, gain_model, plugin, message):
    from fewshot_sep.plugin_host import load_chain
    from fewshot_sep.utils.errors import UserError

    path = _write(tmp_path / "bad.json", {"format": "fewshot-sep-chain", "format_version": 1, "plugins": [plugin]})
    with pytest.raises(UserError, match=message) as info:
        load_chain(path, model=gain_model)
    assert "bad.json" in str(info.value) and "plugins[0]" in str(info.value)


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"format": "something-else", "plugins": []}, "not a chain file"),
        ({"format_version": 99, "plugins": []}, "format_version 99 is not supported"),
        ({"plugins": [], "code": "import os"}, "unknown top-level key"),
        ({}, "missing 'plugins'"),
        ([1, 2], "must hold a JSON object"),
    ],
)
def test_bad_documents_are_refused(tmp_path, doc, message):
    from fewshot_sep.plugin_host import load_chain
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match=message):
        load_chain(_write(tmp_path / "bad.json", doc))


def test_missing_and_invalid_files(tmp_path):
    from fewshot_sep.plugin_host import load_chain
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        load_chain(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(UserError, match="is not valid JSON"):
        load_chain(tmp_path / "broken.json")


def test_convolution_saved_by_file_relative_to_chain(tmp_path, gain_model):
    import soundfile as sf

    from fewshot_sep.plugin_host import Chain, load_chain, save_chain
    from fewshot_sep.utils.errors import UserError

    sf.write(tmp_path / "ir.wav", np.hanning(64).astype(np.float32) / 32, 44100)
    chain = Chain([pedalboard.Convolution(str(tmp_path / "ir.wav"), mix=0.5)])
    path = save_chain(chain, tmp_path / "c.json")
    assert json.loads(path.read_text())["plugins"][0]["impulse_response_filename"] == "ir.wav"
    x = noise(0.2, 44100, 2)
    np.testing.assert_allclose(load_chain(path)(x, 44100), chain(x, 44100), atol=1e-6)
    with pytest.raises(UserError, match="built from an array"):
        save_chain(Chain([pedalboard.Convolution(np.ones(8, np.float32), sample_rate=44100)]), tmp_path / "d.json")
