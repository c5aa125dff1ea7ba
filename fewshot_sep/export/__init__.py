"""Torch -> ONNX export of a trained model into a verified model folder (uses torch).

Public API (docs/export.md for users, docs/internals.md for the contracts):

- :func:`export_model` ``(model, out_dir, ...) -> ExportResult``: writes
  ``encoder.onnx``, ``separator.onnx``, optional ``separator_<preset>.onnx`` and
  ``model_card.json``, each graph checked against torch (max abs diff < 1e-4),
  all-or-nothing;
- :class:`BakeRequest`: a preset's conditioning vector to fold into its own graph;
- :mod:`fewshot_sep.export.graphs`: the single-graph exporters;
- :mod:`fewshot_sep.export.verify`: the torch-vs-onnxruntime checks
  (:class:`ExportVerificationError` on failure);
- :mod:`fewshot_sep.export.card`: the model card and ``model_id``.
"""

from fewshot_sep.export.card import model_id_of
from fewshot_sep.export.exporter import BakeRequest, ExportResult, export_model, preset_file_name
from fewshot_sep.export.graphs import OPSET
from fewshot_sep.export.verify import TOLERANCE, ExportVerificationError, VerificationReport

__all__ = [
    "export_model", "ExportResult", "BakeRequest", "preset_file_name", "model_id_of", "OPSET", "TOLERANCE",
    "ExportVerificationError", "VerificationReport",
]
