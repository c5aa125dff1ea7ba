"""``separate --jobs N``: the files of a batch in N local processes, without Dask.

The same per-file code as a local or Dask run (`run_on_worker`: processors built once
per process from the job's `ProcessorSpec`, then `stream_file`), so the outputs are
byte for byte those of a run in one process. Processes are spawned (not forked: a
fork of a process holding onnxruntime sessions is not safe). At most N files are
handed out at a time, so Ctrl-C stops the batch after the files in progress, which
stop too: the terminal's SIGINT reaches every process of the group, a process
interrupts the file it is separating (its temp file is removed) and ignores the
signal while idle. A process that dies (killed, out of memory) takes the pool's files
in progress with it: they are tried again in a fresh pool, and a file that kills its
process twice fails alone (`MAX_TRIES`).

No torch, no dask.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

_IN_TASK = False
#: A file whose process died is tried this many times in all (like Dask's allowed-failures).
MAX_TRIES = 2


def _on_sigint(signum: int, frame: Any) -> None:
    if _IN_TASK:  # interrupt the file being separated; an idle process waits for the pool's shutdown
        raise KeyboardInterrupt


def _init_process() -> None:
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a batch run under nohup keeps ignoring Ctrl-C
        signal.signal(signal.SIGINT, _on_sigint)
    # started with SIGINT blocked (`sigint_held_back`); one pending now reaches the idle handler
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def run_job(run_file: Callable[[Any, Any], Any], spec: Any, task: Any) -> Any:
    """One file in a pool process (``run_file(spec, task)``), interruptible by SIGINT only while it runs."""
    global _IN_TASK
    _IN_TASK = True
    try:
        return run_file(spec, task)
    finally:
        _IN_TASK = False


@contextmanager
def sigint_held_back() -> Iterator[None]:
    """Block SIGINT in this thread while pool processes are started, then deliver any that came.

    A spawned process inherits the blocked mask, so a Ctrl-C that lands while it is still
    importing stays pending there until `_init_process` has its handler in place (no
    KeyboardInterrupt traceback from a half-started process); here, a Ctrl-C that came
    meanwhile is delivered when the block lifts (none is lost).
    """
    from multiprocessing import resource_tracker

    # The tracker's own start blocks and then unblocks SIGINT (not nested): start it first.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run_in_processes(spec: Any, todo: Sequence[Any], jobs: int, finish: Callable[[int, Any], None],
                     run_file: Callable[[Any, Any], Any]) -> None:
    """Separate the FileTasks `todo` in `jobs` spawned processes; `finish(index, outcome)` per file, as done.

    `run_file(spec, task) -> FileOutcome` is the per-file code (``batch.run_on_worker``,
    passed in so this module stays below it); a module-level function, as processes get it pickled.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from fewshot_sep.plugin_host.files.outcome import FileOutcome

    workers = min(jobs, len(todo))
    context = multiprocessing.get_context("spawn")

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_process)

    def failed(task: Any, err: BaseException) -> Any:
        return FileOutcome(task.input, "failed", list(task.targets), error=f"{type(err).__name__}: {err}",
                           labels=list(task.labels))

    pool = new_pool()
    pending = list(reversed(todo))
    running: dict[Any, Any] = {}
    tries: dict[str, int] = {}
    index = 0
    try:
        while pending or running:
            while pending and len(running) < workers:  # never more files handed out than processes
                task = pending.pop()
                try:
                    with sigint_held_back():  # a submit may start the pool's processes
                        running[pool.submit(run_job, run_file, spec, task)] = task
                except BrokenProcessPool:  # a process died since the last look: go on in a fresh pool
                    pool.shutdown(wait=True)
                    pool = new_pool()
                    with sigint_held_back():
                        running[pool.submit(run_job, run_file, spec, task)] = task
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    outcome = future.result()
                except KeyboardInterrupt:
                    raise
                except BrokenProcessPool as err:  # a process died: every file in progress is lost with it
                    tries[task.input] = tries.get(task.input, 0) + 1
                    if tries[task.input] < MAX_TRIES:
                        pending.append(task)  # once more, in a fresh pool: most of them were not the cause
                        continue
                    outcome = failed(task, err)
                except Exception as err:  # a bug
                    outcome = failed(task, err)
                index += 1
                finish(index, outcome)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
