"""Atomic file writes: a temp file in the target folder, then rename.

A crash or an error mid-write never leaves a truncated file at the target path.
This module is the one owner of atomic writes, so it also owns their loose ends:

- **permissions**: the result gets the mode a plain ``open(target, "w")`` would give
  (``0o666`` minus the umask), or keeps the mode of the file it replaces; the
  private temp file (``mkstemp`` makes it 0600) never decides the final mode;
- **SIGTERM** (what ``timeout``, systemd, ``docker stop`` and job schedulers send):
  the temp files being written are removed, as on Ctrl-C, before the process ends
  with the signal's usual status (the handler is installed when the default one is
  in place, from the main thread; `install_sigterm_cleanup` installs it up front);
- **stale temp files** (a process killed with SIGKILL or a power cut): temp names
  carry the writer's process id (``.NAME.~PID~RANDOM.EXT``) and a later write to
  the same target removes the ones whose process is gone (or that are a day old);
- **errors**: a folder that cannot be written is a `UserError` naming the target
  file, not the hidden temp file;
- **read-modify-write** (the preset library): `folder_lock` serialises writers of one
  folder across processes (an advisory lock on a hidden lock file), so a
  check-then-write or load-change-save cannot race with another process's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from fewshot_sep.utils.errors import UserError

#: Temp files of this process that are being written (removed on SIGTERM).
_LIVE_TEMPS: set[str] = set()
_LIVE_LOCK = threading.Lock()
_STALE_AFTER_S = 24 * 3600  # a temp file this old is stale whoever wrote it
_DEAD_WRITER_GRACE_S = 60  # ... and one of a dead process once untouched this long


def temp_prefix(target: Path) -> str:
    return f".{target.name}.~{os.getpid()}~"


def _temp_pattern(target: Path, suffix: str) -> re.Pattern:
    return re.compile(re.escape(f".{target.name}.~") + r"(\d+)~[A-Za-z0-9_]+" + re.escape(suffix) + "$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def temp_files_of(target: str | os.PathLike, suffix: str | None = None) -> list[Path]:
    """Temp files of atomic writes to `target` by any process (`atomic_path`'s naming)."""
    target = Path(target)
    suffix = target.suffix if suffix is None else suffix
    pattern = _temp_pattern(target, suffix)
    try:
        return [p for p in target.parent.glob(f".{glob_escape(target.name)}.~*") if pattern.match(p.name)]
    except OSError:
        return []


def sweep_stale_temps(target: str | os.PathLike, suffix: str | None = None) -> list[Path]:
    """Remove stale temp files of earlier atomic writes to `target`; returns those removed."""
    target = Path(target)
    suffix = target.suffix if suffix is None else suffix
    pattern = _temp_pattern(target, suffix)
    removed = []
    now = time.time()
    for path in temp_files_of(target, suffix):
        pid = int(pattern.match(path.name).group(1))
        try:
            age = now - path.lstat().st_mtime
        except OSError:
            continue
        mine = pid == os.getpid() and str(path) in _LIVE_TEMPS
        dead = pid != os.getpid() and not _pid_alive(pid)
        if not mine and ((dead and age > _DEAD_WRITER_GRACE_S) or age > _STALE_AFTER_S):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read by setting (briefly) and restoring
    os.umask(mask)
    return mask


def _final_mode(target: Path) -> int:
    with contextlib.suppress(OSError):
        return target.stat().st_mode & 0o7777  # replacing a file keeps its mode
    return 0o666 & ~current_umask()


def _on_sigterm(signum, frame) -> None:  # pragma: no cover - exercised through a subprocess
    with _LIVE_LOCK:
        temps = list(_LIVE_TEMPS)
    for name in temps:
        with contextlib.suppress(OSError):
            os.unlink(name)
    # End the way SIGTERM ends a process (status 128 + 15 / -15), not with a traceback.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_sigterm_cleanup() -> bool:
    """Remove this process's temp files on SIGTERM; only where SIGTERM has its default
    handler and from the main thread. Returns True when the handler is in place."""
    if threading.current_thread() is not threading.main_thread():
        return signal.getsignal(signal.SIGTERM) is _on_sigterm
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm:
        return True
    if current not in (signal.SIG_DFL, None):
        return False  # the application handles SIGTERM itself
    signal.signal(signal.SIGTERM, _on_sigterm)
    return True


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` on success.

    The temp file keeps the target's suffix (or `suffix`) so libraries that pick
    a format from the extension (soundfile, pedalboard) still do. On an
    exception (Ctrl-C included) or SIGTERM the temp file is removed and the
    target is left untouched.

    Raises:
        UserError: the target's folder cannot be created or written.
    """
    target = Path(target)
    suffix = suffix if suffix is not None else target.suffix
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        install_sigterm_cleanup()
        sweep_stale_temps(target, suffix)
        fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=suffix, dir=target.parent)
    except OSError as err:
        raise UserError(
            f"cannot write {str(target)!r}: {err.strerror or err} (folder {str(target.parent)!r}); "
            "choose a folder you can write to, or check its permissions and free space"
        ) from err
    with _LIVE_LOCK:
        _LIVE_TEMPS.add(tmp_name)
    tmp = Path(tmp_name)
    try:
        os.close(fd)
        yield tmp
        with contextlib.suppress(OSError):  # e.g. a file system without modes
            os.chmod(tmp, _final_mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE_TEMPS.discard(tmp_name)


LOCK_NAME = ".fewshot-sep.lock"
LOCK_TIMEOUT_S = 300.0
_HELD = threading.local()


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the exclusive lock of `folder` (re-entrant within a thread; waits up to `timeout` s).

    Every read-modify-write of files in `folder` by fewshot-sep holds it, so two
    processes never both pass a "does it exist?" check or both save a change made
    to the same old version.

    Raises:
        UserError: the lock could not be taken in `timeout` seconds, or the folder is not writable.
    """
    folder = Path(folder)
    held = _HELD.__dict__.setdefault("counts", {})
    key = str(folder.resolve())
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise UserError(f"cannot lock folder {str(folder)!r} for writing: {err.strerror or err}; "
                        "check that it exists and you can write to it") from err
    try:
        _lock_fd(fd, folder, timeout)
        held[key] = 1
        try:
            yield
        finally:
            held[key] = 0
            _unlock_fd(fd)
    finally:
        os.close(fd)


def _lock_fd(fd: int, folder: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.name == "nt":  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise UserError(
                    f"another fewshot-sep process has been writing in {str(folder)!r} for {timeout:.0f} s: "
                    f"wait for it to finish and try again (lock file {LOCK_NAME})"
                ) from None
            time.sleep(0.02)


def _unlock_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `target` atomically."""
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def write_json_atomic(target: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    """Write `obj` as JSON to `target` atomically."""
    write_text_atomic(target, json.dumps(obj, indent=indent, sort_keys=False) + "\n")
