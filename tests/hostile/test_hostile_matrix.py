"""The bad-input matrix (tests/hostile_cases.py): one test per entry point x hostile value.

scripts/hostile_matrix.py runs the same cases and writes docs/hostile-input.md.
"""

from __future__ import annotations

import threading

import pytest

from hostile_cases import CASES, make_context, run_case


@pytest.fixture(scope="module")
def context(tmp_path_factory, gain_model, gain_model_dir):
    import os

    saved = os.environ.get("FEWSHOT_SEP_HOME")
    ctx = make_context(tmp_path_factory.mktemp("hostile"), gain_model, gain_model_dir)
    yield ctx
    if saved is None:
        os.environ.pop("FEWSHOT_SEP_HOME", None)
    else:
        os.environ["FEWSHOT_SEP_HOME"] = saved


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(context, case):
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(out=run_case(case, context)), daemon=True)
    thread.start()
    thread.join(30)  # a FIFO or /dev/zero must never hang the suite
    assert not thread.is_alive(), f"{case.id}: hung for 30 s"
    passed, what = result["out"]
    assert passed, f"{case.id}: {what}"
