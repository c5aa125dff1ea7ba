"""The one onnxruntime session factory: the engine, the encoder, the exporter's checks and benchmarks."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from fewshot_sep.utils.errors import UserError

#: ``optimization`` names -> onnxruntime's graph optimisation levels.
OPTIMIZATION_LEVELS = {
    "off": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def make_session(source: Path | str | bytes, num_threads: int = 1, *, optimization: str = "all",
                 optimized_model_path: Path | str | None = None) -> ort.InferenceSession:
    """A CPU inference session of the ONNX graph `source` (a file, or the serialized graph).

    ``num_threads = 1`` gives the live configuration: one intra-op thread,
    sequential execution. More threads are for offline work. Worker threads
    never spin-wait: on a machine shared with other jobs (or with the audio
    callback) spinning only steals cores.

    Args:
        optimization: graph optimisation level, a key of :data:`OPTIMIZATION_LEVELS`
            (the run time uses "all"; the exporter folds graphs with "basic").
        optimized_model_path: where onnxruntime saves the optimised graph (None: nowhere).

    Raises:
        UserError: the graph cannot be loaded (names it, says to re-export).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(num_threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = OPTIMIZATION_LEVELS[optimization]
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    if optimized_model_path is not None:
        options.optimized_model_filepath = str(optimized_model_path)
    graph = source if isinstance(source, bytes) else str(source)
    try:
        return ort.InferenceSession(graph, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        what = "the serialized ONNX graph" if isinstance(source, bytes) else f"ONNX graph {source}"
        raise UserError(f"cannot load {what}: {exc}; re-export the model") from exc
