"""The model card: every documented field, the latency rule, model_id = hash of the files,
and the same checkpoint exported twice gives the same bytes (stable model_id)."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from export_helpers import TINY_CONFIG, tiny_model
from fewshot_sep.export import export_model
from fewshot_sep.realtime.model_files import ModelFiles

DOCUMENTED_KEYS = {
    "format_version", "model_id", "name", "sample_rate", "n_fft", "hop_length", "window", "lookahead_frames",
    "latency_samples", "embedding_dim", "conditioning_dim", "clip_seconds", "min_clip_seconds", "separator",
    "encoder", "versions", "training",
}


@pytest.fixture(scope="module")
def two_exports(tiny_export, tmp_path_factory):
    """The shared tiny export and a second export of the same weights, with a training section."""
    _, first = tiny_export
    second = export_model(tiny_model(seed=0), tmp_path_factory.mktemp("card") / "b", config=TINY_CONFIG,
                          name="tiny-again", training={"status": "trained", "steps": 12}, show_progress=False)
    return first, second


def test_card_fields(two_exports):
    _, result = two_exports
    card = json.loads((result.folder / "model_card.json").read_text())
    assert DOCUMENTED_KEYS <= set(card)
    assert card["format_version"] == 1
    assert card["name"] == "tiny-again"
    assert (card["sample_rate"], card["n_fft"], card["hop_length"], card["window"]) == (44100, 1024, 256, "hann_periodic")
    assert card["lookahead_frames"] == 0
    assert card["latency_samples"] == card["n_fft"] - 1 + card["lookahead_frames"] * card["hop_length"] == 1023
    assert card["embedding_dim"] == TINY_CONFIG["model"]["embedding_dim"]
    assert card["conditioning_dim"] == 2 * TINY_CONFIG["model"]["embedding_dim"] + 1
    support = TINY_CONFIG["data"]["support_seconds"]  # the encoder's training clip length
    assert (card["clip_seconds"], card["min_clip_seconds"]) == (support, min(1.0, support))
    assert card["separator"]["file"] == "separator.onnx" and card["encoder"]["file"] == "encoder.onnx"
    shapes = [s["shape"] for s in card["separator"]["states"]]
    assert [s["name"] for s in card["separator"]["states"]] == [f"state_{i}" for i in range(len(shapes))]
    model = tiny_model(seed=0)
    assert shapes == [list(s) for s in model.separator.state_shapes]
    assert card["versions"]["torch"] == torch.__version__.split("+")[0]
    assert card["versions"]["onnx_opset"] == 17
    assert card["training"] == {"status": "trained", "steps": 12}
    assert card["verification"]["max_abs_diff"] < card["verification"]["tolerance"] == 1e-4


def test_model_id_is_the_hash_of_the_graphs(two_exports):
    result, _ = two_exports
    folder = result.folder
    digest = hashlib.sha256((folder / "separator.onnx").read_bytes() + (folder / "encoder.onnx").read_bytes())
    assert result.model_id == digest.hexdigest()[:16]
    assert json.loads((folder / "model_card.json").read_text())["model_id"] == result.model_id
    # The run-time loader accepts the folder (it re-checks the hash and every card field).
    loaded = ModelFiles.load(folder)
    assert loaded.model_id == result.model_id
    assert loaded.latency_samples == 1023
    assert [s.shape for s in loaded.states] == [tuple(s["shape"]) for s in result.card["separator"]["states"]]


def test_export_is_deterministic(two_exports):
    first, second = two_exports
    for name in ("separator.onnx", "encoder.onnx"):
        assert (first.folder / name).read_bytes() == (second.folder / name).read_bytes(), name
    assert first.model_id == second.model_id
    # The card differs (name, training) but model_id only covers the graphs.
    assert first.card["name"] != second.card["name"]
