"""A graph that differs from torch makes the export fail loudly and leave nothing behind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from export_helpers import TINY_CONFIG, tiny_model
from fewshot_sep.export import ExportVerificationError, export_model
from fewshot_sep.utils.errors import UserError


def _export_with_perturbed_weights(monkeypatch, pick_parameter):
    """Make torch.onnx.export trace slightly different weights than the eager model keeps."""
    real_export = torch.onnx.export

    def corrupted_export(module, args, f, *a, **kw):
        param = pick_parameter(module)
        if param is None:
            return real_export(module, args, f, *a, **kw)
        with torch.no_grad():
            param.add_(0.05)
        try:
            return real_export(module, args, f, *a, **kw)
        finally:
            with torch.no_grad():
                param.sub_(0.05)

    monkeypatch.setattr(torch.onnx, "export", corrupted_export)


def _separator_head_bias(module):
    sep = getattr(module, "separator", None)
    if sep is None:
        return None
    return [p for name, p in sep.named_parameters() if name.endswith("bias")][-1]


def _encoder_proj_bias(module):
    enc = getattr(module, "encoder", None)
    if enc is None:
        return None
    return [p for name, p in enc.named_parameters() if name.endswith("bias")][-1]


@pytest.mark.parametrize("pick, graph", [(_separator_head_bias, "separator.onnx"),
                                         (_encoder_proj_bias, "encoder.onnx")])
def test_mismatch_fails_and_leaves_no_folder(monkeypatch, tmp_path, pick, graph):
    _export_with_perturbed_weights(monkeypatch, pick)
    out = tmp_path / "model"
    with pytest.raises(ExportVerificationError) as info:
        export_model(tiny_model(), out, config=TINY_CONFIG, show_progress=False)
    message = str(info.value)
    assert graph in message and "max abs diff" in message and "Nothing was written" in message
    assert isinstance(info.value, UserError)  # the CLI prints it without a traceback, exit code 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone too


def test_failed_reexport_keeps_the_old_model(monkeypatch, tmp_path):
    out = tmp_path / "model"
    first = export_model(tiny_model(), out, config=TINY_CONFIG, show_progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _export_with_perturbed_weights(monkeypatch, _separator_head_bias)
    with pytest.raises(ExportVerificationError):
        export_model(tiny_model(seed=1), out, config=TINY_CONFIG, show_progress=False, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert first.model_id in (out / "model_card.json").read_text()


def test_state_limit_scales_with_the_state_but_mask_limit_does_not():
    from fewshot_sep.export.verify import VerificationReport

    report = VerificationReport(tolerance=1e-4)
    big = np.full(4, 30.0)
    report.record("state", big, big + 2e-4, scaled=True)  # 2e-4 < 1e-4 * 30: float32 rounding of a large value
    assert report.problems == []
    report.record("state far off", big, big + 4e-3, scaled=True)  # 4e-3 >= 3e-3
    report.record("mask", np.full(4, 0.5), np.full(4, 0.5 + 2e-4))
    assert [p.split(":")[0] for p in report.problems] == ["state far off", "mask"]
