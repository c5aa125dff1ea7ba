"""ModelFiles: loading the model folder and clear errors for broken cards."""

from __future__ import annotations

import json

import pytest

from fewshot_sep.realtime.model_files import ENV_VAR, ModelFiles
from fewshot_sep.utils.errors import UserError
from model_doubles import EMBEDDING_DIM, make_model_folder


def test_loads_a_double(identity_model_dir):
    model = ModelFiles.load(identity_model_dir)
    assert model.sample_rate == 44100 and model.latency_samples == 1023
    assert model.embedding_dim == EMBEDDING_DIM and model.conditioning_dim == 2 * EMBEDDING_DIM + 1
    assert model.separator_path.is_file() and model.encoder_path.is_file()
    assert [s.name for s in model.states] == ["state_0"] and model.states[0].concrete_shape(3) == (3, 4)
    assert len(model.model_id) == 16
    assert ModelFiles.load(identity_model_dir / "model_card.json").folder == identity_model_dir
    assert ModelFiles.load(model) is model


def test_env_var_selects_the_default(identity_model_dir, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(identity_model_dir))
    assert ModelFiles.load(None).folder == identity_model_dir
    monkeypatch.setenv(ENV_VAR, str(identity_model_dir / "nope"))
    with pytest.raises(UserError, match=ENV_VAR):
        ModelFiles.load(None)


def test_missing_folder_and_card(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        ModelFiles.load(tmp_path / "missing")
    with pytest.raises(UserError, match="model_card.json is missing"):
        ModelFiles.load(tmp_path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"latency_samples": 512}, "latency_samples 512"),
        ({"conditioning_dim": 20}, "conditioning_dim 20"),
        ({"format_version": 7}, "format_version 7"),
        ({"window": "hamming"}, "window 'hamming'"),
        ({"n_fft": 1000}, "hop_length"),
        ({"sample_rate": "44100"}, "'sample_rate'"),
        ({"separator": {"file": "separator.onnx", "states": [{"name": "s", "shape": [None, 4]}]}}, "expected 'state_0'"),
        ({"separator": {"file": "separator.onnx", "states": [{"name": "state_0", "shape": [4, 4]}]}}, "null"),
        ({"separator": {"file": "other.onnx", "states": []}}, "other.onnx"),
        ({"model_id": "0123456789abcdef"}, "does not match the ONNX files"),
    ],
)
def test_broken_cards_give_clear_errors(tmp_path, overrides, message):
    folder = make_model_folder(tmp_path, "identity", **overrides)
    with pytest.raises(UserError, match=message):
        ModelFiles.load(folder)


def test_missing_key_and_bad_json(tmp_path):
    folder = make_model_folder(tmp_path, "identity")
    card = json.loads((folder / "model_card.json").read_text())
    del card["hop_length"]
    (folder / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="lacks the key 'hop_length'"):
        ModelFiles.load(folder)
    (folder / "model_card.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot read"):
        ModelFiles.load(folder)
