"""Torch -> ONNX for the three graphs of a model folder (docs/internals.md).

- ``encoder.onnx``: ``magnitude [N, 1, 513, T] -> embedding [N, E]`` (N, T dynamic);
- ``separator.onnx``: ``magnitude [B, P, 513, T], conditioning [B, D], state_0.. ->
  mask [B, 1, 513, T], state_0_out..`` (B, T dynamic; P = 1, or 2 for a separator that
  reads each channel with the other one: the card's ``separator.input_planes``);
- ``separator_<preset>.onnx``: the separator with one conditioning vector folded
  in as a constant (no ``conditioning`` input).

The legacy TorchScript exporter (``dynamo=False``) is used: it handles the GRU
and the state inputs/outputs, and given the same weights it writes the same
bytes every time, which keeps the content-hash ``model_id`` stable. After the
export the graph is normalised with ``onnx`` (state output shapes written out,
no exporter-generated symbolic dimension names) so the files only depend on the
weights and the code.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

OPSET = 17
N_BINS = 513
BATCH_DIM = "batch"
FRAMES_DIM = "frames"
CLIPS_DIM = "clips"


# ---------------------------------------------------------------------------------------
# I/O names (the contract of docs/internals.md)
# ---------------------------------------------------------------------------------------


def state_input_names(n_states: int) -> list[str]:
    """``["state_0", ..., "state_{n-1}"]``."""
    return [f"state_{i}" for i in range(n_states)]


def state_output_names(n_states: int) -> list[str]:
    """``["state_0_out", ..., "state_{n-1}_out"]``."""
    return [f"state_{i}_out" for i in range(n_states)]


# ---------------------------------------------------------------------------------------
# Wrappers: plain tensor-in, tuple-out modules that the tracer records
# ---------------------------------------------------------------------------------------


class SeparatorGraph(nn.Module):
    """``(magnitude, conditioning, *states) -> (mask, *new_states)``, the separator as exported."""

    def __init__(self, separator: nn.Module) -> None:
        super().__init__()
        self.separator = separator

    def forward(self, magnitude: torch.Tensor, conditioning: torch.Tensor,
                *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.separator(magnitude, conditioning, *states))


class BakedSeparatorGraph(nn.Module):
    """``(magnitude, *states) -> (mask, *new_states)`` with a fixed conditioning vector.

    The vector is held as a ``[1, D]`` constant and broadcast over the batch by
    the separator's FiLM layers, so the whole conditioning path (context MLP,
    FiLM scales and shifts) depends on constants only and is folded away at
    export time.
    """

    def __init__(self, separator: nn.Module, conditioning: np.ndarray) -> None:
        super().__init__()
        self.separator = separator
        vector = torch.as_tensor(np.asarray(conditioning, dtype=np.float32)).reshape(1, -1)
        self.register_buffer("conditioning", vector.clone())

    def forward(self, magnitude: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.separator(magnitude, self.conditioning, *states))


class EncoderGraph(nn.Module):
    """``magnitude [N, 1, 513, T] -> embedding [N, E]``."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return self.encoder(magnitude)


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def _trace_to_bytes(module: nn.Module, args: tuple[torch.Tensor, ...], input_names: list[str],
                    output_names: list[str], dynamic_axes: dict[str, dict[int, str]], opset: int) -> bytes:
    """Run the legacy exporter into memory and return the serialised ModelProto."""
    module.eval()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The GRU-with-batch_first and tracer warnings are expected and harmless here;
        # parity with torch is checked explicitly afterwards (fewshot_sep.export.verify).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, args, buffer,
            input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
            opset_version=opset, do_constant_folding=True, dynamo=False,
        )
    return buffer.getvalue()


def _normalise(model_bytes: bytes, state_shapes: Sequence[Sequence[int | None]], doc: str) -> bytes:
    """Write out the state outputs' static dims and a doc string; return canonical bytes.

    The tracer names the state outputs' last dim after the Slice that makes it
    (``Slicestate_0_out_dim_3``) although it is a known constant; the card and
    the runtime rely on the exact shapes, so they are written into the graph.
    """
    import onnx

    model = onnx.load_from_string(model_bytes)
    model.doc_string = doc
    outputs = {o.name: o for o in model.graph.output}
    for i, shape in enumerate(state_shapes):
        out = outputs.get(f"state_{i}_out")
        if out is None:
            continue
        dims = out.type.tensor_type.shape.dim
        for d, size in zip(dims, shape):
            if size is None:
                d.ClearField("dim_value")
                d.dim_param = BATCH_DIM
            else:
                d.ClearField("dim_param")
                d.dim_value = int(size)
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)


def fold_constants(model_bytes: bytes) -> bytes:
    """Fold every subgraph that only depends on constants, with onnxruntime's basic optimiser.

    The TorchScript exporter keeps ``Gemm``/``MatMul`` on initializers as they are,
    so in a baked graph the conditioning path (context MLP, FiLM scales and
    shifts) would still run on every call. onnxruntime's *basic* level only does
    hardware-independent rewrites that stay plain ONNX (constant folding,
    redundant-node removal, Conv+BatchNorm fusion); the result is saved and the
    opset imports it adds for domains no node uses are dropped again.
    """
    import tempfile

    import onnx

    from fewshot_sep.realtime.sessions import make_session

    with tempfile.TemporaryDirectory(prefix="fewshot-sep-fold-") as tmp:
        folded = Path(tmp) / "folded.onnx"
        make_session(model_bytes, optimization="basic", optimized_model_path=folded)
        model = onnx.load(str(folded))
    used = {node.domain for node in model.graph.node}
    kept = [op for op in model.opset_import if op.domain in ("", "ai.onnx") or op.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    return model.SerializeToString(deterministic=True)


def _example_magnitude(batch: int, frames: int, planes: int = 1) -> torch.Tensor:
    # Values do not shape the graph (no data-dependent control flow); fixed for tidiness.
    gen = torch.Generator().manual_seed(0)
    return torch.rand(batch, planes, N_BINS, frames, generator=gen)


def input_planes(separator: nn.Module) -> int:
    """Magnitude planes ``separator`` reads: 2 for a ``stereo_input`` separator (this channel,
    the other one), else 1."""
    return 2 if getattr(separator, "stereo_input", False) else 1


def _state_dynamic_axes(n_states: int) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {}
    for name in state_input_names(n_states) + state_output_names(n_states):
        axes[name] = {0: BATCH_DIM}
    return axes


def separator_to_onnx(separator: nn.Module, path: str | Path, opset: int = OPSET) -> Path:
    """Export the stateful separator to ``path`` (B and T dynamic).

    Inputs ``magnitude [B,P,513,T]`` (``P`` = :func:`input_planes`), ``conditioning [B,D]``,
    ``state_i``; outputs ``mask [B,1,513,T]``, ``state_i_out`` (shapes from ``separator.state_shapes``).
    """
    separator = separator.eval()
    n_states = len(separator.state_shapes)
    batch, frames = 2, 3
    conditioning = torch.zeros(batch, int(separator.conditioning_dim))
    args = (_example_magnitude(batch, frames, input_planes(separator)), conditioning, *separator.initial_states(batch))
    axes = {"magnitude": {0: BATCH_DIM, 3: FRAMES_DIM}, "conditioning": {0: BATCH_DIM},
            "mask": {0: BATCH_DIM, 3: FRAMES_DIM}, **_state_dynamic_axes(n_states)}
    raw = _trace_to_bytes(SeparatorGraph(separator), args,
                          ["magnitude", "conditioning", *state_input_names(n_states)],
                          ["mask", *state_output_names(n_states)], axes, opset)
    data = _normalise(raw, separator.state_shapes, "fewshot-sep stateful separator (docs/internals.md)")
    path = Path(path)
    path.write_bytes(data)
    return path


def baked_separator_to_onnx(separator: nn.Module, conditioning: np.ndarray, path: str | Path,
                            opset: int = OPSET) -> Path:
    """Export the separator with ``conditioning [D]`` folded in (no ``conditioning`` input)."""
    separator = separator.eval()
    vector = np.asarray(conditioning, dtype=np.float32).reshape(-1)
    if vector.shape[0] != int(separator.conditioning_dim):
        raise ValueError(f"conditioning has {vector.shape[0]} values, the separator needs {separator.conditioning_dim}")
    n_states = len(separator.state_shapes)
    batch, frames = 2, 3
    args = (_example_magnitude(batch, frames, input_planes(separator)), *separator.initial_states(batch))
    axes = {"magnitude": {0: BATCH_DIM, 3: FRAMES_DIM}, "mask": {0: BATCH_DIM, 3: FRAMES_DIM},
            **_state_dynamic_axes(n_states)}
    raw = _trace_to_bytes(BakedSeparatorGraph(separator, vector), args,
                          ["magnitude", *state_input_names(n_states)],
                          ["mask", *state_output_names(n_states)], axes, opset)
    data = _normalise(fold_constants(raw), separator.state_shapes,
                      "fewshot-sep separator with a preset's conditioning folded in (docs/export.md)")
    path = Path(path)
    path.write_bytes(data)
    return path


def encoder_to_onnx(encoder: nn.Module, path: str | Path, opset: int = OPSET) -> Path:
    """Export the clip encoder to ``path``: ``magnitude [N,1,513,T] -> embedding [N,E]`` (N, T dynamic)."""
    encoder = encoder.eval()
    args = (_example_magnitude(2, 50),)
    axes = {"magnitude": {0: CLIPS_DIM, 3: FRAMES_DIM}, "embedding": {0: CLIPS_DIM}}
    raw = _trace_to_bytes(EncoderGraph(encoder), args, ["magnitude"], ["embedding"], axes, opset)
    data = _normalise(raw, [], "fewshot-sep conditioning encoder (docs/internals.md)")
    path = Path(path)
    path.write_bytes(data)
    return path
