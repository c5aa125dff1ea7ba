"""Read a small JSON document from a user-given path, safely.

Every JSON file a user hands us (presets, chain files, ``preset import``) goes
through `read_json_file`, which checks *before* reading that the path is a regular
file of a plausible size (a FIFO would block forever, a link to ``/dev/zero`` would
read until memory runs out), reads with a cap (the file may grow after the check),
and turns every decoding or parsing failure (bad UTF-8, a byte-order mark, invalid
JSON, NaN/Infinity, nesting deep enough to exhaust Python's recursion) into a
`UserError` that names the file and says how to fix it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from fewshot_sep.utils.errors import UserError

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not a valid number here (JSON has no NaN or Infinity)")


def short_repr(value: Any) -> str:
    """A value for a message: short, and safe for any nesting (reprlib stops after a few levels)."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother, short.maxlist, short.maxdict = 3, 40, 40, 4, 4
    return short.repr(value)


def file_kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_json_file(path: str | os.PathLike, what: str, max_bytes: int, fix: str) -> Any:
    """Parse the JSON document in `path` (a regular UTF-8 file of at most `max_bytes`).

    Args:
        path: the file (links are followed, then checked).
        what: how messages call it, e.g. ``"preset file"``.
        max_bytes: refuse larger files (checked before and while reading).
        fix: the hint appended to parse errors (e.g. how to regenerate the file).

    Raises:
        UserError: missing, not a regular file, too large, unreadable, not UTF-8, or not valid JSON.
    """
    path = Path(path)
    where = f"{what} {str(path)!r}"
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"{where} does not exist: check the path") from None
    except OSError as err:
        raise UserError(f"cannot read {where}: {err.strerror or err}") from err
    kind = file_kind(info.st_mode)
    if kind is not None:
        raise UserError(f"{where} is {kind}, not a file: give the path of a .json file")
    if info.st_size > max_bytes:
        raise UserError(f"{where} is {info.st_size:,} bytes: too large to be a {what} (limit {max_bytes:,} bytes); "
                        "check that you gave the right file")
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, open() does not hang.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if file_kind(os.fstat(fh.fileno()).st_mode) is not None:
                raise UserError(f"{where} is not a regular file: give the path of a .json file")
            raw = fh.read(max_bytes + 1)
    except OSError as err:
        raise UserError(f"cannot read {where}: {err.strerror or err}") from err
    if raw is None or len(raw) > max_bytes:
        raise UserError(f"{where} is larger than {max_bytes:,} bytes: too large to be a {what}")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise UserError(
            f"{where} starts with a byte-order mark (BOM), which JSON files must not have: save it again as "
            "'UTF-8' (not 'UTF-8 with BOM') in your editor, or re-export it"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{where} is not UTF-8 text (byte {err.start}): is it really a {what}? {fix}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise UserError(
            f"{where} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); it may be truncated "
            f"or edited by hand: {fix}"
        ) from None
    except RecursionError:
        raise UserError(f"{where} is nested too deeply to be a {what}: {fix}") from None
    except ValueError as err:
        raise UserError(f"{where} is invalid: {err}; {fix}") from None
