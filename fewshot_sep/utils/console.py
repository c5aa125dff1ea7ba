"""Printing for commands whose output may go to a pipe that closes early (``| head -1``).

When the reader of stdout (or stderr) goes away, Python raises BrokenPipeError on the
next write, and again when it flushes at exit ("Exception ignored ... BrokenPipeError").
`emit` prints a line and, on a broken pipe, points that stream's file descriptor at
``/dev/null``: later lines are dropped quietly and the command goes on with its work
(a batch still writes its files and exits with the status of that work).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import TextIO


def silence_stream(stream: TextIO) -> None:
    """Point `stream`'s file descriptor at /dev/null (after its reader went away)."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


def emit(text: str, stream: TextIO | None = None) -> bool:
    """Print `text` (a line, flushed) to `stream` (default stdout); False if its reader is gone."""
    stream = sys.stdout if stream is None else stream
    try:
        print(text, file=stream, flush=True)
        return True
    except BrokenPipeError:
        silence_stream(stream)
        return False
