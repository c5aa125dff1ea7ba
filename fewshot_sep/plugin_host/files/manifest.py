"""The job manifest of a batch: one JSON line per finished file, in the output folder.

``fewshot-sep-manifest.jsonl`` is appended to (and fsynced) by the one process that
drives the batch, only after a file's outputs have been renamed into place, so a
line with ``"status": "done"`` always names complete outputs. A rerun with
``--resume`` skips a file whose last line says done for the same job (same
presets, options and model), whose input has the recorded size and modification
time and whose outputs still exist with the recorded sizes; everything else is
done again. A torn last line (the driver killed mid-write) is ignored.

Fields of a line: ``input`` (path), ``input_sha256``, ``input_bytes``,
``input_mtime_ns``, ``outputs`` (paths), ``output_bytes``, ``status``
(``"done"`` | ``"failed"``), ``error`` (message or null), ``seconds`` (audio
duration, s), ``wall_seconds`` (processing time, s), ``job`` (hash of the job's
settings), ``worker``, ``finished`` (UTC, ISO 8601).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from fewshot_sep.utils.atomic import temp_files_of

MANIFEST_NAME = "fewshot-sep-manifest.jsonl"


def file_sha256(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read `block` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def utc_stamp() -> str:
    """Now, UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class JobManifest:
    """Append-only JSON Lines record of a batch (see the module docstring)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def records(self) -> dict[str, dict[str, Any]]:
        """The last well-formed record per input path (later lines win)."""
        latest: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return latest
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn line from a driver that died mid-write
                if isinstance(record, dict) and isinstance(record.get("input"), str):
                    latest[record["input"]] = record
        return latest

    def append(self, record: dict[str, Any]) -> None:
        """Add one line and make it durable before returning (a crash right after keeps it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def is_complete(record: dict[str, Any] | None, input_path: str, targets: Iterable[str], job: str) -> bool:
    """True if `record` shows this job already wrote every target of `input_path`, and nothing changed since."""
    if not record or record.get("status") != "done" or record.get("job") != job:
        return False
    targets = list(targets)
    if record.get("outputs") != targets:
        return False
    try:
        stat = os.stat(input_path)
        if stat.st_size != record.get("input_bytes") or stat.st_mtime_ns != record.get("input_mtime_ns"):
            return False
        sizes = [os.stat(t).st_size for t in targets]
    except OSError:
        return False  # input or an output is gone: do it again
    return sizes == record.get("output_bytes")


def remove_orphan_temp_files(targets: Iterable[str]) -> list[Path]:
    """Delete temp files that `atomic_path` left beside `targets` when its process was killed.

    A worker killed mid-file (SIGKILL, OOM, a lost machine) cannot clean up, so its
    temp file (`fewshot_sep.utils.atomic` names them) stays beside the target. Call
    only when nothing of this batch is still writing. Returns the removed paths.
    """
    removed = []
    for target in targets:
        for entry in temp_files_of(target):
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed
