"""onnxruntime session construction shared by the encoder and the engine."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from fewshot_sep.utils.errors import UserError


def make_session(path: Path, num_threads: int = 1) -> ort.InferenceSession:
    """A CPU inference session.

    ``num_threads = 1`` gives the live configuration: one intra-op thread,
    sequential execution. More threads are for offline work. Worker threads
    never spin-wait: on a machine shared with other jobs (or with the audio
    callback) spinning only steals cores.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(num_threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise UserError(f"cannot load ONNX graph {path}: {exc}; re-export the model") from exc
