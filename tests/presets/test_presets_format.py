"""Preset JSON: bit-exact round trip, and a validating loader that refuses bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fewshot_sep.presets import create_preset, load_preset, save_preset
from fewshot_sep.utils.errors import UserError
from preset_helpers import bright_noise, dark_tone, synthetic_preset, write


@pytest.mark.parametrize("negatives", [True, False])
def test_round_trip_is_bit_exact(tmp_path, negatives):
    preset = synthetic_preset(negatives=negatives)
    path = save_preset(preset, tmp_path / "p.json")
    loaded = load_preset(path)
    assert loaded.positive.total.tobytes() == preset.positive.total.tobytes()
    assert loaded.positive_mean.tobytes() == preset.positive_mean.tobytes()
    if negatives:
        assert loaded.negative.total.tobytes() == preset.negative.total.tobytes()
    else:
        assert loaded.negative_mean is None
    assert loaded.conditioning().tobytes() == preset.conditioning().tobytes()
    assert loaded.conditioning().dtype == np.float32
    assert loaded.to_json() == preset.to_json()
    # Saving what was loaded gives the same bytes.
    save_preset(loaded, tmp_path / "q.json")
    assert (tmp_path / "q.json").read_bytes() == path.read_bytes()
    assert (loaded.name, loaded.default_mode, loaded.default_mix) == ("round trip", "remove", 0.3)
    assert loaded.clips[0].segment == (1.25, None)


def test_conditioning_layout():
    preset = synthetic_preset(dim=16)
    vector = preset.conditioning()
    assert vector.shape == (33,)
    np.testing.assert_array_equal(vector[:16], preset.positive_mean)
    np.testing.assert_array_equal(vector[16:32], preset.negative_mean)
    assert vector[32] == 1.0
    without = synthetic_preset(dim=16, negatives=False).conditioning()
    assert np.all(without[16:32] == 0) and without[32] == 0.0


def test_round_trip_of_a_built_preset(tmp_path, identity_model):
    write(tmp_path / "a.wav", dark_tone(110, 4.0))
    write(tmp_path / "n.wav", bright_noise(2.0))
    preset = create_preset("built", [tmp_path / "a.wav"], [tmp_path / "n.wav"], model=identity_model)
    loaded = load_preset(save_preset(preset, tmp_path / "p.json"))
    assert loaded.conditioning().tobytes() == preset.conditioning().tobytes()


def _doc(tmp_path):
    path = save_preset(synthetic_preset(), tmp_path / "good.json")
    return json.loads(path.read_text())


def _write_doc(tmp_path, doc, name="bad.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_truncated_file_is_rejected(tmp_path):
    path = save_preset(synthetic_preset(), tmp_path / "p.json")
    text = path.read_text()
    for cut in (len(text) // 3, len(text) - 5):
        (tmp_path / "t.json").write_text(text[:cut])
        with pytest.raises(UserError, match="not valid JSON.*truncated"):
            load_preset(tmp_path / "t.json")


def _edit(doc, edit):
    doc = json.loads(json.dumps(doc))
    edit(doc)
    return doc


TAMPERING = {
    "mean edited": (lambda d: d["positive"]["mean"].__setitem__(0, d["positive"]["mean"][0] + 1e-3),
                    "mean does not equal sum / count"),
    "sum edited": (lambda d: d["positive"]["sum"].__setitem__(3, 0.5), "mean does not equal sum / count"),
    "count edited": (lambda d: d["positive"].__setitem__("count", 6), "mean does not equal sum / count"),
    "clip count edited": (lambda d: d["clips"][0].__setitem__("n_clips", 4), "positive.count is 5 but"),
    "wrong dims": (lambda d: (d["positive"]["sum"].pop(), d["positive"]["mean"].pop()), "expected embedding_dim = 16"),
    "embedding_dim edited": (lambda d: d.__setitem__("embedding_dim", 8), "expected embedding_dim = 8"),
    "missing key": (lambda d: d.pop("model_id"), "missing key 'model_id'"),
    "missing clips": (lambda d: d.pop("clips"), "missing key 'clips'"),
    "unknown key": (lambda d: d.__setitem__("extra", 1), "unknown key"),
    "string number": (lambda d: d["positive"]["mean"].__setitem__(0, "0.1"), r"mean\[0\] is not a number"),
    "bad mode": (lambda d: d["defaults"].__setitem__("mode", "louder"), "defaults.mode"),
    "mix out of range": (lambda d: d["defaults"].__setitem__("mix", 1.5), "defaults.mix"),
    "bad role": (lambda d: d["clips"][0].__setitem__("role", "maybe"), "role must be one of"),
    "no positives": (lambda d: d.__setitem__("positive", {"count": 0, "sum": None, "mean": None}), "positive.count"),
    "bad name": (lambda d: d.__setitem__("name", "../../etc/passwd"), "path separator"),
    "not a preset": (lambda d: d.__setitem__("format", "something-else"), "not a fewshot-sep preset"),
    "bad sha": (lambda d: d["clips"][0].__setitem__("sha256", "xyz"), "sha256"),
    "bad time": (lambda d: d.__setitem__("created", "yesterday"), "ISO 8601"),
    "bool count": (lambda d: d["negative"].__setitem__("count", True), "must be an integer"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_hand_edited_file_is_rejected(tmp_path, case):
    edit, message = TAMPERING[case]
    path = _write_doc(tmp_path, _edit(_doc(tmp_path), edit))
    with pytest.raises(UserError, match=message) as err:
        load_preset(path)
    assert "bad.json" in str(err.value)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_rejected(tmp_path, token):
    doc = _doc(tmp_path)
    text = json.dumps(doc).replace(json.dumps(doc["positive"]["mean"][2]), token, 1)
    (tmp_path / "nan.json").write_text(text)
    with pytest.raises(UserError, match=f"{token} is not a valid number"):
        load_preset(tmp_path / "nan.json")


def test_newer_format_version_asks_for_an_upgrade(tmp_path):
    path = _write_doc(tmp_path, _edit(_doc(tmp_path), lambda d: d.__setitem__("format_version", 99)))
    with pytest.raises(UserError, match="newer fewshot-sep"):
        load_preset(path)


@pytest.mark.parametrize("content, message", [
    (b"", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2, 3]", "must be a JSON object"),
])
def test_garbage_files_are_rejected(tmp_path, content, message):
    (tmp_path / "g.json").write_bytes(content)
    with pytest.raises(UserError, match=message):
        load_preset(tmp_path / "g.json")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_preset(tmp_path / "nope.json")
    with pytest.raises(UserError, match="is a folder"):
        load_preset(tmp_path)


def test_invalid_preset_is_never_written(tmp_path):
    preset = synthetic_preset()
    preset.positive.total[0] = np.nan
    with pytest.raises(UserError):
        save_preset(preset, tmp_path / "p.json")
    assert list(tmp_path.iterdir()) == []
