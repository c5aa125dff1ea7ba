"""Test doubles of the model folder: tiny ONNX graphs built with onnx.helper (no torch).

The folders follow docs/internals.md exactly (``separator.onnx``, ``encoder.onnx``,
``model_card.json``), so every run-time layer can be tested without a trained
model:

- ``identity`` separator: mask = 1 everywhere (output = input delayed by the latency);
- ``gain`` separator: mask = clip(conditioning[:, 0], 0, 1), broadcast over bins and frames;
- both carry one dummy state ``state_0 [B, 4]`` with ``state_0_out = state_0 + T``
  (T = frames in the call), so state plumbing is visible from outside;
- encoder: embedding = L2-normalised fixed random projection of the clip's mean
  ``log1p`` magnitude spectrum over time, ``E = 16`` (so ``D = 33``).

Use :func:`make_model_folder` directly or the fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
N_FFT = 1024
HOP = 256
N_BINS = N_FFT // 2 + 1
EMBEDDING_DIM = 16
STATE_SHAPE = [None, 4]
OPSET = 17
KINDS = ("identity", "gain")


def _separator_graph(kind: str):
    import onnx
    from onnx import TensorProto, helper

    conditioning_dim = 2 * EMBEDDING_DIM + 1
    inputs = [
        helper.make_tensor_value_info("magnitude", TensorProto.FLOAT, ["B", 1, N_BINS, "T"]),
        helper.make_tensor_value_info("conditioning", TensorProto.FLOAT, ["B", conditioning_dim]),
        helper.make_tensor_value_info("state_0", TensorProto.FLOAT, ["B", STATE_SHAPE[1]]),
    ]
    outputs = [
        helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["B", 1, N_BINS, "T"]),
        helper.make_tensor_value_info("state_0_out", TensorProto.FLOAT, ["B", STATE_SHAPE[1]]),
    ]
    nodes = [
        # state_0_out = state_0 + T (number of frames in this call)
        helper.make_node("Shape", ["magnitude"], ["frames_i64"], start=3, end=4),
        helper.make_node("Cast", ["frames_i64"], ["frames_f32"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["state_0", "frames_f32"], ["state_0_out"]),
        helper.make_node("Shape", ["magnitude"], ["mag_shape"]),
    ]
    initializers = []
    if kind == "identity":
        nodes.append(
            helper.make_node(
                "ConstantOfShape", ["mag_shape"], ["mask"], value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
            )
        )
    elif kind == "gain":
        initializers += [
            helper.make_tensor("slice_start", TensorProto.INT64, [1], [0]),
            helper.make_tensor("slice_end", TensorProto.INT64, [1], [1]),
            helper.make_tensor("slice_axis", TensorProto.INT64, [1], [1]),
            helper.make_tensor("unsq_axes", TensorProto.INT64, [2], [2, 3]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        ]
        nodes += [
            helper.make_node("Slice", ["conditioning", "slice_start", "slice_end", "slice_axis"], ["g"]),  # [B,1]
            helper.make_node("Clip", ["g", "zero", "one"], ["g_clipped"]),
            helper.make_node("Unsqueeze", ["g_clipped", "unsq_axes"], ["g4"]),  # [B,1,1,1]
            helper.make_node("Expand", ["g4", "mag_shape"], ["mask"]),
        ]
    else:
        raise ValueError(f"unknown double kind {kind!r}: use one of {KINDS}")
    graph = helper.make_graph(nodes, f"separator_{kind}", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="model_doubles")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def encoder_projection(seed: int = 1234) -> np.ndarray:
    """The encoder double's fixed projection ``[513, E]`` float32."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N_BINS, EMBEDDING_DIM)) / np.sqrt(N_BINS)).astype(np.float32)


def reference_embedding(magnitude: np.ndarray) -> np.ndarray:
    """What the encoder double computes, in numpy: ``[N, 1, 513, T] -> [N, E]``."""
    mean = np.log1p(magnitude.astype(np.float64)).mean(axis=-1)[:, 0, :]
    emb = mean @ encoder_projection().astype(np.float64)
    return (emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-8)).astype(np.float32)


def _encoder_graph():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inputs = [helper.make_tensor_value_info("magnitude", TensorProto.FLOAT, ["N", 1, N_BINS, "T"])]
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", EMBEDDING_DIM])]
    initializers = [
        numpy_helper.from_array(encoder_projection(), "projection"),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("eps", TensorProto.FLOAT, [], [1e-8]),
    ]
    nodes = [
        helper.make_node("Add", ["magnitude", "one"], ["mag_plus_one"]),
        helper.make_node("Log", ["mag_plus_one"], ["log_mag"]),
        helper.make_node("ReduceMean", ["log_mag"], ["mean_time"], axes=[3], keepdims=0),  # [N,1,513]
        helper.make_node("Flatten", ["mean_time"], ["mean_flat"], axis=1),  # [N,513]
        helper.make_node("MatMul", ["mean_flat", "projection"], ["raw"]),  # [N,E]
        helper.make_node("ReduceL2", ["raw"], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Add", ["norm", "eps"], ["norm_eps"]),
        helper.make_node("Div", ["raw", "norm_eps"], ["embedding"]),
    ]
    graph = helper.make_graph(nodes, "encoder_double", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="model_doubles")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def make_model_folder(tmp_path: Path, kind: str = "identity", latency_samples: int = 1023, **card_overrides) -> Path:
    """Write a complete model folder ``tmp_path / f"model_{kind}"`` and return its path.

    ``card_overrides`` replace top-level card keys (to build deliberately broken
    cards in validation tests).
    """
    folder = Path(tmp_path) / f"model_{kind}"
    folder.mkdir(parents=True, exist_ok=True)
    separator_bytes = _separator_graph(kind).SerializeToString()
    encoder_bytes = _encoder_graph().SerializeToString()
    (folder / "separator.onnx").write_bytes(separator_bytes)
    (folder / "encoder.onnx").write_bytes(encoder_bytes)
    card = {
        "format_version": 1,
        "model_id": hashlib.sha256(separator_bytes + encoder_bytes).hexdigest()[:16],
        "name": f"test-double-{kind}",
        "sample_rate": SAMPLE_RATE,
        "n_fft": N_FFT,
        "hop_length": HOP,
        "window": "hann_periodic",
        "lookahead_frames": 0,
        "latency_samples": latency_samples,
        "embedding_dim": EMBEDDING_DIM,
        "conditioning_dim": 2 * EMBEDDING_DIM + 1,
        "clip_seconds": 3.0,
        "min_clip_seconds": 1.0,
        "separator": {"file": "separator.onnx", "states": [{"name": "state_0", "shape": list(STATE_SHAPE)}]},
        "encoder": {"file": "encoder.onnx"},
        "versions": {"fewshot_sep": "0.1.0", "torch": None, "onnx_opset": OPSET},
        "training": {"double": kind},
    }
    card.update(card_overrides)
    (folder / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return folder


def gain_conditioning(gain: float) -> np.ndarray:
    """A conditioning vector ``[D]`` for the gain double whose mask is ``clip(gain, 0, 1)``."""
    vector = np.zeros(2 * EMBEDDING_DIM + 1, dtype=np.float32)
    vector[0] = gain
    return vector
