"""Hostile JSON files for every reader (presets, chain files, `preset import`, the Python API).

Deep nesting, a FIFO (real ``os.mkfifo``), a link to ``/dev/zero``, a byte-order mark:
each is a usage error (exit 2) naming the file, never a traceback, a hang or a memory blow-up.
"""

from __future__ import annotations

import os
import threading

import pytest

from fewshot_sep.cli import main
from fewshot_sep.utils.errors import UserError

DEEP = "[" * 100_000 + "]" * 100_000


def _readers(tmp_path):
    from fewshot_sep.plugin_host.plugin.chain_file import load_chain
    from fewshot_sep.presets import import_preset, load_preset

    os.environ["FEWSHOT_SEP_HOME"] = str(tmp_path / "home")
    return {"load_preset": load_preset, "load_chain": load_chain, "import_preset": import_preset}


def _call_with_deadline(func, *args, seconds: float = 10.0):
    """Run func in a thread; fail (instead of hanging the suite) if it does not return in time."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = func(*args)
        except BaseException as err:  # noqa: BLE001 - reported below
            outcome["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{func.__name__} hung on {args}"
    return outcome


@pytest.mark.parametrize("reader", ["load_preset", "load_chain", "import_preset"])
@pytest.mark.parametrize("case", ["deep", "fifo", "dev_zero", "bom", "nan", "binary"])
def test_hostile_json_is_a_user_error(tmp_path, monkeypatch, reader, case):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    path = tmp_path / "evil.json"
    if case == "deep":
        path.write_text(DEEP)
    elif case == "fifo":
        os.mkfifo(path)
    elif case == "dev_zero":
        path.symlink_to("/dev/zero")
    elif case == "bom":
        path.write_bytes(b"\xef\xbb\xbf{}")
    elif case == "nan":
        path.write_text('{"format": NaN}')
    else:
        path.write_bytes(bytes(range(256)))
    outcome = _call_with_deadline(_readers(tmp_path)[reader], path)
    err = outcome.get("error")
    assert isinstance(err, UserError), f"{reader} on {case}: {err!r}"
    message = str(err)
    assert "evil.json" in message
    expected = {"deep": "nested too deeply", "fifo": "named pipe", "dev_zero": "character device",
                "bom": "save it again as 'UTF-8'", "nan": "NaN", "binary": "not UTF-8"}[case]
    assert expected in message
    assert "Python" not in message and "utf-8-sig" not in message


def test_deep_api_documents_are_user_errors():
    from fewshot_sep.plugin_host.plugin.chain_file import chain_from_json
    from fewshot_sep.presets import Preset

    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    with pytest.raises(UserError):
        Preset.from_json({"format": "fewshot-sep-preset", "format_version": 1, "name": deep})
    board: dict = {"type": "Gain"}
    for _ in range(5_000):
        board = {"type": "Pedalboard", "plugins": [board]}
    with pytest.raises(UserError, match="nested more than"):
        chain_from_json({"format": "fewshot-sep-chain", "format_version": 1, "plugins": [board]})


def test_preset_oversized_file_refused_before_reading(tmp_path, capsys):
    path = tmp_path / "big.json"
    with open(path, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: the size check must come before the read
    code = main(["preset", "show", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "too large" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["preset", "show"], ["preset", "import"]])
def test_cli_fifo_exits_2(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.setenv("FEWSHOT_SEP_HOME", str(tmp_path / "home"))
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outcome = _call_with_deadline(main, [*argv, str(fifo)])
    assert outcome.get("value") == 2, outcome
    assert "named pipe" in capsys.readouterr().err
