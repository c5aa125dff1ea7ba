"""Shared pytest fixtures. Others may append fixtures here."""

from __future__ import annotations

import pytest

from model_doubles import make_model_folder


@pytest.fixture(scope="session")
def run_without_torch():
    """``run_without_torch(code, *argv, also=(), block=True, **subprocess_run_kwargs)``: `code` in a fresh
    interpreter where torch (and the packages in `also`) cannot be imported; `code` may call
    ``imported()`` (the checked packages' loaded modules). See tests/no_torch.py."""
    from no_torch import run_without_torch

    return run_without_torch


@pytest.fixture(scope="session")
def identity_model_dir(tmp_path_factory):
    """Path of a model folder whose separator is the identity double (mask = 1)."""
    return make_model_folder(tmp_path_factory.mktemp("doubles"), kind="identity")


@pytest.fixture(scope="session")
def gain_model_dir(tmp_path_factory):
    """Path of a model folder whose separator mask is clip(conditioning[:, 0], 0, 1)."""
    return make_model_folder(tmp_path_factory.mktemp("doubles"), kind="gain")


@pytest.fixture(scope="session")
def identity_model(identity_model_dir):
    """`ModelFiles` of the identity double."""
    from fewshot_sep.realtime.model_files import ModelFiles

    return ModelFiles.load(identity_model_dir)


@pytest.fixture(scope="session")
def gain_model(gain_model_dir):
    """`ModelFiles` of the gain double."""
    from fewshot_sep.realtime.model_files import ModelFiles

    return ModelFiles.load(gain_model_dir)


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """``(torch model, ExportResult)``: the tiny export-test model (tests/export_helpers.py), exported once.

    Read-only for the tests that share it (parity, streaming, card, presets).
    """
    from export_helpers import TINY_CONFIG, tiny_model

    from fewshot_sep.export import export_model

    model = tiny_model(seed=0)
    out = tmp_path_factory.mktemp("tiny_export") / "model"
    return model, export_model(model, out, config=TINY_CONFIG, name="tiny", show_progress=False)
