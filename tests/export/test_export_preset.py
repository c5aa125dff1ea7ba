"""`--preset`: a separator graph with a preset's conditioning folded in equals the
conditioned graph fed that preset's vector; a preset of another model is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from export_helpers import TINY_CONFIG, conditioning, magnitude, session, tiny_model, zero_states
from fewshot_sep.commands.export import bake_requests
from fewshot_sep.export import export_model, preset_file_name
from fewshot_sep.presets import create_preset, save_preset
from fewshot_sep.realtime.model_files import ModelFiles
from fewshot_sep.utils.errors import UserError
from preset_helpers import dark_tone, write

TOL = 1e-4


@pytest.fixture(scope="module")
def preset_setup(tiny_export, tmp_path_factory):
    """A model folder, a preset made with it, and the same model re-exported with the preset baked in."""
    base = tmp_path_factory.mktemp("bake")
    plain = tiny_export[1]
    clip = write(base / "cello.wav", dark_tone(110.0, 3.5))
    preset = create_preset("Low Cello", [str(clip)], model=ModelFiles.load(plain.folder))
    preset_path = save_preset(preset, base / "low_cello.json")
    baked = export_model(tiny_model(seed=0), base / "baked", config=TINY_CONFIG, show_progress=False,
                         bake=bake_requests([str(preset_path)], base / "baked"))
    return plain, baked, preset, preset_path


def test_baked_graph_equals_conditioned_graph(preset_setup):
    plain, baked, preset, _ = preset_setup
    assert baked.model_id == plain.model_id  # deterministic export: the preset fits
    file_name = preset_file_name(preset.name)
    assert file_name == "separator_low_cello.onnx"
    baked_sess = session(baked.folder / file_name)
    assert [i.name for i in baked_sess.get_inputs()][:1] == ["magnitude"]
    assert "conditioning" not in [i.name for i in baked_sess.get_inputs()]
    cond_sess = session(baked.folder / "separator.onnx")
    card = baked.card
    rng = np.random.default_rng(0)
    vector = preset.conditioning()
    for batch in (1, 2):
        mag = magnitude(rng, batch, 9)
        states_a = zero_states(card, batch)
        states_b = zero_states(card, batch)
        for call in range(2):  # second call with carried states
            got = baked_sess.run(None, {"magnitude": mag, **states_a})
            ref = cond_sess.run(None, {"magnitude": mag, "conditioning": np.repeat(vector[None], batch, 0), **states_b})
            for g, r in zip(got, ref):
                np.testing.assert_allclose(g, r, atol=TOL, rtol=0)
            states_a = dict(zip(states_a, got[1:]))
            states_b = dict(zip(states_b, ref[1:]))
        # ...and the baked vector matters: another vector gives another mask.
        other = cond_sess.run(["mask"], {"magnitude": mag, "conditioning": conditioning(rng, batch),
                                         **zero_states(card, batch)})[0]
        first = baked_sess.run(["mask"], {"magnitude": mag, **zero_states(card, batch)})[0]
        assert np.max(np.abs(other - first)) > 1e-3


def test_card_lists_the_baked_graph(preset_setup):
    _, baked, preset, _ = preset_setup
    card = json.loads((baked.folder / "model_card.json").read_text())
    (entry,) = card["baked_presets"]
    assert entry["file"] == "separator_low_cello.onnx"
    assert entry["preset"] == "Low Cello"
    assert entry["preset_model_id"] == card["model_id"]
    # The baked file is extra: model_id covers separator.onnx + encoder.onnx only.
    assert ModelFiles.load(baked.folder).model_id == card["model_id"]


def test_preset_of_another_model_is_refused(preset_setup, tmp_path):
    _, _, _, preset_path = preset_setup
    out = tmp_path / "other"
    with pytest.raises(UserError, match="was made with model") as info:
        export_model(tiny_model(seed=12), out, config=TINY_CONFIG, show_progress=False,
                     bake=bake_requests([str(preset_path)], out))
    assert "preset create" in str(info.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left either
