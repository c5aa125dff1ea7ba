"""Batches of files: in this process, or on a Dask cluster; resumable through a job manifest.

:func:`separate_files` is ``fewshot-sep separate`` as a Python function. Files run
one after the other in this process (``workers=1``, the default), on an embedded
``distributed.LocalCluster`` of ``workers`` processes, or on an existing cluster
(``scheduler="tcp://host:8786"``). Every file goes through the same code:
:func:`fewshot_sep.plugin_host.files.plan.run_file_task` (that is, ``stream_file``),
with processors built from the same :class:`ProcessorSpec`, so outputs are byte for
byte those of a local run.

On a cluster: the spec (presets as JSON text, a few kB) travels with each task; each
worker process loads the model once and builds its processors once per thread.
A worker that dies mid-file loses nothing: the scheduler gives the task to another
worker (``distributed.scheduler.allowed-failures`` times, then the file fails with
``KilledWorker``), atomic writes keep the half-written file out of the target name,
and the temp files a killed worker leaves are removed when the batch ends.
Inputs and outputs must be on storage every worker sees at the same paths.

Dask is an optional extra (``pip install 'fewshot-sep[distributed]'``): nothing here
imports it unless a cluster is asked for. No torch.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_module
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from fewshot_sep.plugin_host.files.manifest import (
    MANIFEST_NAME,
    JobManifest,
    file_sha256,
    is_complete,
    remove_orphan_temp_files,
)
from fewshot_sep.plugin_host.files.outcome import BatchProgress, BatchSummary, FileOutcome
from fewshot_sep.plugin_host.files.plan import (
    FileTask,
    ProcessorSpec,
    build_processors,
    plan_separation,
    run_file_task,
)
from fewshot_sep.plugin_host.files.processing import FILE_ERRORS
from fewshot_sep.plugin_host.files.quiet_part import quiet_part_warnings
from fewshot_sep.utils.errors import UserError

INSTALL_HINT = "pip install 'fewshot-sep[distributed]'"


# ------------------------------------------------------------------ one file, anywhere
def attempt_file(
    task: FileTask, processors: Sequence[Any], progress_callback: Callable[[float, float], None] | None = None
) -> FileOutcome:
    """Separate one file; a file-level error (FILE_ERRORS) becomes a "failed" outcome, not an exception."""
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        result = run_file_task(task, processors, progress=False, progress_callback=progress_callback)
    except FILE_ERRORS as err:
        outcome = FileOutcome(task.input, "failed", list(task.targets), error=str(err), worker=worker,
                              labels=list(task.labels))
        with contextlib.suppress(OSError):
            _describe_input(outcome)
        outcome.wall_seconds = time.perf_counter() - start
        return outcome
    outcome = FileOutcome(
        task.input, "done", list(task.targets), seconds=result.seconds, sample_rate=result.sample_rate,
        channels=result.channels, output_bytes=[os.stat(t).st_size for t in task.targets], worker=worker,
        nonfinite_samples=result.nonfinite_samples, latency_samples=result.latency_samples,
        labels=list(task.labels), warnings=quiet_part_warnings(task, processors, result),
    )
    _describe_input(outcome)
    outcome.wall_seconds = time.perf_counter() - start
    return outcome


def _describe_input(outcome: FileOutcome) -> None:
    stat = os.stat(outcome.input)
    outcome.input_bytes, outcome.input_mtime_ns = stat.st_size, stat.st_mtime_ns
    if stat_module.S_ISREG(stat.st_mode):  # hashing a FIFO or a device would block or read forever
        outcome.input_sha256 = file_sha256(outcome.input)


# Worker-process caches: the model once per process, processors once per thread
# (they stream with state, so threads must not share them).
_MODELS: dict[str | None, Any] = {}
_MODELS_LOCK = threading.Lock()
_THREAD = threading.local()


def _worker_processors(spec: ProcessorSpec) -> list[Any]:
    cached = getattr(_THREAD, "processors", None)
    if cached is not None and cached[0] == spec.key:
        return cached[1]
    from fewshot_sep.realtime.model_files import ModelFiles

    with _MODELS_LOCK:
        if spec.model not in _MODELS:
            _MODELS[spec.model] = ModelFiles.load(spec.model)
        model = _MODELS[spec.model]
    processors = build_processors(spec, model)
    _THREAD.processors = (spec.key, processors)
    return processors


def run_on_worker(spec: ProcessorSpec, task: FileTask) -> FileOutcome:
    """The Dask task: one file with this worker's (cached) processors."""
    try:
        processors = _worker_processors(spec)
    except UserError as err:  # e.g. another model on this worker: every retry would fail the same way
        return FileOutcome(task.input, "failed", list(task.targets), error=str(err),
                           worker=f"{socket.gethostname()}:{os.getpid()}")
    return attempt_file(task, processors)


# ------------------------------------------------------------------ engines
@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A ``distributed.Client``: on an embedded LocalCluster of `workers` processes, or at `scheduler`.

    Raises:
        UserError: Dask is not installed, or the scheduler cannot be reached.
    """
    try:
        import logging

        from distributed import Client, LocalCluster
    except ImportError as err:
        what = f"--scheduler {scheduler}" if scheduler else f"--workers {workers}"
        raise UserError(
            f"{what} needs Dask's distributed scheduler, which is not installed ({err}): {INSTALL_HINT}, "
            "or leave out --workers/--scheduler to run the files one after the other here"
        ) from err
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout="20s"))
            except (OSError, TimeoutError, ValueError) as err:
                raise UserError(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({err}): start one with "
                    "`dask scheduler` and workers with `dask worker ADDRESS`, or check the address "
                    "(e.g. tcp://10.0.0.5:8786)"
                ) from err
        else:
            import importlib.util

            # The dashboard needs bokeh; without it, ask for none rather than get a warning.
            dashboard = ":0" if importlib.util.find_spec("bokeh") is not None else None
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=dashboard, silence_logs=logging.ERROR,
            ))
            client = stack.enter_context(Client(cluster))
        yield client


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard's address, if the scheduler serves one (it needs bokeh there)."""
    with contextlib.suppress(Exception):
        # The scheduler's HTTP server runs without bokeh too, but then has no dashboard pages.
        # A lambda travels by value, so the scheduler needs no fewshot-sep to run it.
        has_bokeh = client.run_on_scheduler(lambda: __import__("importlib.util").util.find_spec("bokeh") is not None)
        if has_bokeh and "dashboard" in client.scheduler_info().get("services", {}):
            return str(client.dashboard_link)
    return None


def run_tasks(
    spec: ProcessorSpec,
    tasks: Sequence[FileTask],
    processors: Sequence[Any] | None = None,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    jobs: int = 1,
    manifest: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    log: Callable[[str], Any] = print,
) -> BatchSummary:
    """Run file tasks here (``workers=1``, no scheduler) or on Dask; record them in `manifest`.

    Args:
        spec, tasks: from :func:`plan_separation`.
        processors: the spec's processors for a local run (None = build them).
        workers: local Dask worker processes (> 1 starts a LocalCluster).
        scheduler: address of an existing Dask scheduler (instead of `workers`).
        jobs: local worker processes without Dask (> 1 runs files in a process pool).
        manifest: JSON Lines job manifest to append to (None = none).
        resume: skip the tasks the manifest shows complete (needs `manifest`).
        overwrite: replace outputs that exist; without it, any existing output refuses the
            whole batch before work starts (with `resume`, the outputs the manifest records
            may be replaced).
        progress: one bar for the batch in seconds of audio (None = only on a terminal).
        log: gets one line per file (lines with ``": FAILED: "`` are failures, lines with
            ``": warning: "`` warnings).

    Returns:
        A BatchSummary. A failing file never stops the batch.

    Raises:
        UserError: bad engine options, or outputs that exist (without `overwrite`).
    """
    from fewshot_sep.plugin_host.files.output_names import check_overwrite

    check_engine_options(workers, scheduler, jobs)
    if resume and manifest is None:
        raise ValueError("resume needs a manifest path")
    book = JobManifest(manifest) if manifest is not None else None
    job = f"{spec.key}-{tasks[0].bit_depth}" if tasks else spec.key
    summary = BatchSummary(manifest=book.path if book else None, workers=max(workers, jobs), tasks=list(tasks))
    todo = list(tasks)
    records = book.records() if (resume and book is not None) else {}
    if not overwrite:  # decided before any work, so a refused batch writes nothing
        recorded = {p for r in records.values() for p in (r.get("outputs") or []) if isinstance(p, str)}
        check_overwrite((t for task in todo for t in task.targets), allowed=recorded)
    if resume and book is not None:
        remove_orphan_temp_files(t for task in tasks for t in task.targets)  # left by a run that was killed
        done = [is_complete(records.get(t.input), t.input, t.targets, job) for t in tasks]
        todo = [t for t, complete in zip(tasks, done) if not complete]
        summary.skipped = [t.input for t, complete in zip(tasks, done) if complete]
        if summary.skipped:  # one line, not one per file: a catalogue rerun may skip thousands
            log(f"skipping {len(summary.skipped)} file(s) the manifest {book.path} shows done")

    report = BatchProgress(todo, summary, book, job, progress, log)
    start = time.perf_counter()
    try:
        if scheduler or workers > 1:
            _run_on_dask(spec, todo, workers, scheduler, report.finish, summary, log)
        elif jobs > 1 and len(todo) > 1:
            from fewshot_sep.plugin_host.files.local_jobs import run_in_processes

            run_in_processes(spec, todo, jobs, report.finish, run_on_worker)
        else:
            processors = list(processors) if processors is not None else build_processors(spec)
            for index, task in enumerate(todo, 1):
                report.finish(index, attempt_file(task, processors, progress_callback=report.inside()))
    finally:
        report.close()
        summary.wall_seconds = time.perf_counter() - start
        if book is not None or jobs > 1:  # a process killed mid-file (SIGKILL, OOM) left its temp file
            remove_orphan_temp_files(t for task in tasks for t in task.targets)
    return summary


def check_engine_options(workers: int, scheduler: str | None, jobs: int) -> None:
    """Refuse bad or conflicting ``--workers``, ``--scheduler`` and ``--jobs`` values (UserError)."""
    for flag, value in (("--workers", workers), ("--jobs", jobs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            what = "worker processes" if flag == "--workers" else "local processes"
            raise UserError(f"{flag} {value!r} is invalid: give a whole number of {what}, 1 or more")
    if scheduler and workers > 1:
        raise UserError("--workers starts a local Dask cluster and --scheduler attaches to an existing one: "
                        "give one of them (the cluster's own workers do the work with --scheduler)")
    if jobs > 1 and (scheduler or workers > 1):
        raise UserError("--jobs runs files in local processes without Dask; --workers/--scheduler run them on "
                        "Dask: give one of them")


def _run_on_dask(spec, todo, workers, scheduler, finish, summary, log) -> None:
    from tqdm import tqdm

    with dask_client(workers, scheduler) as client:
        from distributed import as_completed

        summary.dashboard = dashboard_link(client)
        if summary.dashboard:
            with tqdm.external_write_mode(file=sys.stderr):
                log(f"Dask dashboard: {summary.dashboard}")
        summary.workers = len(client.nthreads()) or workers
        # retries: an exception escaping a task (not a file error) is tried again; a worker
        # that dies is handled by the scheduler, which hands its task to another worker.
        futures = {client.submit(run_on_worker, spec, task, pure=False, retries=2): task for task in todo}
        for index, future in enumerate(as_completed(futures), 1):
            task = futures[future]
            try:
                outcome = future.result()
            except Exception as err:  # KilledWorker (died too often on this file), or a bug
                outcome = FileOutcome(task.input, "failed", list(task.targets),
                                      error=f"{type(err).__name__}: {err}")
            finish(index, outcome)


def manifest_path_for(tasks: Sequence[FileTask], output: str | os.PathLike) -> Path:
    """Where the manifest goes: the output folder, or the output file's folder."""
    out = Path(output).expanduser().absolute()
    single_file = len(tasks) == 1 and tasks[0].outputs == (str(out),) and tasks[0].residual is None
    return (out.parent if single_file else out) / MANIFEST_NAME


def separate_files(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    presets: Sequence[Any] = (),
    *,
    workers: int = 1,
    scheduler: str | None = None,
    jobs: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    log: Callable[[str], Any] = print,
    **options: Any,
) -> BatchSummary:
    """``fewshot-sep separate`` from Python (notebooks, pipelines): same options, same files.

    Args:
        inputs: audio files and/or folders of audio files.
        output: output file (one input) or folder.
        presets: ``builtin:NAME``, library names, preset files or ``Preset`` objects.
        workers: > 1 runs the batch on a local Dask cluster of that many processes.
        scheduler: address of an existing Dask cluster (e.g. ``"tcp://10.0.0.5:8786"``).
        jobs: > 1 runs the files in that many local processes (no Dask needed).
        resume: skip files the job manifest shows complete; a manifest is written
            whenever `resume` is set or the batch runs on Dask.
        overwrite: replace existing outputs (otherwise any existing output refuses the batch
            before work starts; see :func:`run_tasks`).
        progress: one bar in seconds of audio (None = only on a terminal).
        log: gets one line per file (and one per warning).
        **options: the keyword options of :func:`plan_separation`, as on the command line:
            ``mode``, ``mix``, ``chain``, ``stems``, ``fmt``, ``bit_depth``,
            ``chunk_seconds`` (s), ``model``, ``filename``, ``threads``.

    Returns:
        A BatchSummary (done, skipped, failed, throughput, manifest path).

    Raises:
        UserError: a bad option or an existing output (before any file is touched).
    """
    check_engine_options(workers, scheduler, jobs)
    spec, tasks, processors = plan_separation(inputs, output, presets, **options)
    distributed = bool(scheduler) or workers > 1
    manifest = manifest_path_for(tasks, output) if (resume or distributed) else None
    return run_tasks(spec, tasks, processors, workers=workers, scheduler=scheduler, jobs=jobs, manifest=manifest,
                     resume=resume, overwrite=overwrite, progress=progress, log=log)
