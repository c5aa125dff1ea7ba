"""Batches of files: in this process, or on a Dask cluster; resumable through a job manifest.

:func:`separate_files` is ``fewshot-sep separate`` as a Python function. Files run
one after the other in this process (``workers=1``, the default), on an embedded
``distributed.LocalCluster`` of ``workers`` processes, or on an existing cluster
(``scheduler="tcp://host:8786"``). Every file goes through the same code:
:func:`fewshot_sep.plugin_host.batch_plan.run_file_task` (that is, ``stream_file``),
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from fewshot_sep.plugin_host.batch_manifest import (
    MANIFEST_NAME,
    JobManifest,
    file_sha256,
    is_complete,
    remove_orphan_temp_files,
    utc_stamp,
)
from fewshot_sep.plugin_host.batch_plan import (
    FileTask,
    ProcessorSpec,
    build_processors,
    plan_separation,
    run_file_task,
)
from fewshot_sep.plugin_host.file_processing import FILE_ERRORS, FileResult, done_message, failed_message
from fewshot_sep.utils.errors import UserError

INSTALL_HINT = "pip install 'fewshot-sep[distributed]'"


@dataclass
class FileOutcome:
    """What happened to one file (one manifest line); times in seconds."""

    input: str
    status: str  # "done" | "failed"
    outputs: list[str]
    error: str | None = None
    seconds: float = 0.0  # audio duration
    wall_seconds: float = 0.0  # processing time
    sample_rate: int = 0
    channels: int = 0
    input_sha256: str | None = None
    input_bytes: int | None = None
    input_mtime_ns: int | None = None
    output_bytes: list[int] = field(default_factory=list)
    worker: str = ""
    nonfinite_samples: int = 0  # NaN/Inf input samples processed as silence

    def record(self, job: str) -> dict[str, Any]:
        """The manifest line of this outcome."""
        return {
            "input": self.input, "input_sha256": self.input_sha256, "input_bytes": self.input_bytes,
            "input_mtime_ns": self.input_mtime_ns, "outputs": self.outputs, "output_bytes": self.output_bytes,
            "status": self.status, "error": self.error, "seconds": round(self.seconds, 6),
            "wall_seconds": round(self.wall_seconds, 3), "job": job, "worker": self.worker,
            "finished": utc_stamp(),
        }


@dataclass
class BatchSummary:
    """Outcome of a batch: files done, skipped (already complete, ``--resume``) and failed."""

    done: list[FileOutcome] = field(default_factory=list)
    failed: list[FileOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    workers: int = 1
    dashboard: str | None = None
    manifest: Path | None = None

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio separated in this run (skipped files not counted)."""
        return sum(o.seconds for o in self.done)

    @property
    def files_per_second(self) -> float:
        """Files done per second of wall time."""
        return len(self.done) / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def audio_seconds_per_second(self) -> float:
        """Seconds of audio separated per second of wall time (x real time)."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def text(self) -> str:
        """One summary line: done, skipped, failed, throughput."""
        return (
            f"done {len(self.done)}, skipped {len(self.skipped)}, failed {len(self.failed)} "
            f"in {self.wall_seconds:.1f} s on {self.workers} worker(s): {self.files_per_second:.2f} files/s, "
            f"{self.audio_seconds_per_second:.1f} s of audio per second"
        )


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
        outcome = FileOutcome(task.input, "failed", list(task.targets), error=str(err), worker=worker)
        with contextlib.suppress(OSError):
            _describe_input(outcome)
        outcome.wall_seconds = time.perf_counter() - start
        return outcome
    outcome = FileOutcome(
        task.input, "done", list(task.targets), seconds=result.seconds, sample_rate=result.sample_rate,
        channels=result.channels, output_bytes=[os.stat(t).st_size for t in task.targets], worker=worker,
        nonfinite_samples=result.nonfinite_samples,
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
    from fewshot_sep.plugin_host.separator_plugin import load_model

    with _MODELS_LOCK:
        if spec.model not in _MODELS:
            _MODELS[spec.model] = load_model(spec.model)
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
    manifest: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool | None = None,
    log: Callable[[str], Any] = print,
) -> BatchSummary:
    """Run file tasks here (``workers=1``, no scheduler) or on Dask; record them in `manifest`.

    Args:
        spec, tasks: from :func:`plan_separation`.
        processors: the spec's processors for a local run (None = build them).
        workers: local Dask worker processes (> 1 starts a LocalCluster).
        scheduler: address of an existing Dask scheduler (instead of `workers`).
        manifest: JSON Lines job manifest to append to (None = none).
        resume: skip the tasks the manifest shows complete (needs `manifest`).
        progress: one bar for the batch in seconds of audio (None = only on a terminal).
        log: gets one line per file (lines with ``": FAILED: "`` are failures).

    Returns:
        A BatchSummary. A failing file never stops the batch.
    """
    from tqdm import tqdm

    from fewshot_sep.utils.audio import audio_info

    if not isinstance(workers, int) or workers < 1:
        raise UserError(f"--workers {workers!r} is invalid: give a whole number of worker processes, 1 or more")
    if scheduler and workers > 1:
        raise UserError("--workers starts a local Dask cluster and --scheduler attaches to an existing one: "
                        "give one of them (the cluster's own workers do the work with --scheduler)")
    if resume and manifest is None:
        raise ValueError("resume needs a manifest path")
    book = JobManifest(manifest) if manifest is not None else None
    job = f"{spec.key}-{tasks[0].bit_depth}" if tasks else spec.key
    summary = BatchSummary(manifest=book.path if book else None, workers=workers)
    todo = list(tasks)
    if resume and book is not None:
        remove_orphan_temp_files(t for task in tasks for t in task.targets)  # left by a run that was killed
        records = book.records()
        done = [is_complete(records.get(t.input), t.input, t.targets, job) for t in tasks]
        todo = [t for t, complete in zip(tasks, done) if not complete]
        summary.skipped = [t.input for t, complete in zip(tasks, done) if complete]
        if summary.skipped:  # one line, not one per file: a catalogue rerun may skip thousands
            log(f"skipping {len(summary.skipped)} file(s) the manifest {book.path} shows done")

    expected: dict[str, float] = {}
    for task in todo:  # headers only, for the bar's total
        try:
            rate, _, frames = audio_info(task.input)
            expected[task.input] = frames / rate
        except UserError:
            expected[task.input] = 0.0
    bar = tqdm(
        total=round(sum(expected.values()), 2), unit="s", desc="batch",
        disable=(not sys.stderr.isatty()) if progress is None else not progress,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of audio{postfix} "
                   "[{elapsed}<{remaining}]",
    )
    finished_seconds = 0.0

    def finish(index: int, outcome: FileOutcome) -> None:
        nonlocal finished_seconds
        if book is not None:
            book.append(outcome.record(job))  # only now: after the outputs were renamed into place
        prefix = f"[{index}/{len(todo)}] " if len(todo) > 1 else ""
        if outcome.status == "done":
            summary.done.append(outcome)
            line = done_message(prefix, FileResult(Path(outcome.input), [Path(p) for p in outcome.outputs],
                                                   outcome.seconds, outcome.sample_rate, outcome.channels,
                                                   nonfinite_samples=outcome.nonfinite_samples))
        else:
            summary.failed.append(outcome)
            line = failed_message(prefix, outcome.input, outcome.error or "unknown error")
        with tqdm.external_write_mode(file=sys.stderr):  # the line goes above the bar, not through it
            log(line)
        finished_seconds += expected.get(outcome.input, 0.0)
        bar.set_postfix_str(f"files {index}/{len(todo)}", refresh=False)
        bar.update(max(0.0, round(finished_seconds - bar.n, 4)))

    start = time.perf_counter()
    try:
        if scheduler or workers > 1:
            _run_on_dask(spec, todo, workers, scheduler, finish, summary, log)
        else:
            processors = list(processors) if processors is not None else build_processors(spec)
            for index, task in enumerate(todo, 1):
                base = finished_seconds

                def inside(done_s: float, total_s: float, base: float = base) -> None:
                    bar.update(max(0.0, round(base + done_s - bar.n, 4)))

                finish(index, attempt_file(task, processors, progress_callback=inside))
    finally:
        bar.close()
        summary.wall_seconds = time.perf_counter() - start
        if book is not None:
            remove_orphan_temp_files(t for task in tasks for t in task.targets)
    return summary


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
    resume: bool = False,
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
        resume: skip files the job manifest shows complete; a manifest is written
            whenever `resume` is set or the batch runs on Dask.
        progress: one bar in seconds of audio (None = only on a terminal).
        log: gets one line per file.
        **options: the keyword options of :func:`plan_separation`, as on the command line:
            ``mode``, ``mix``, ``chain``, ``stems``, ``fmt``, ``bit_depth``,
            ``chunk_seconds`` (s), ``model``.

    Returns:
        A BatchSummary (done, skipped, failed, throughput, manifest path).

    Raises:
        UserError: a bad option (before any file is touched).
    """
    spec, tasks, processors = plan_separation(inputs, output, presets, **options)
    distributed = bool(scheduler) or (isinstance(workers, int) and workers > 1)
    manifest = manifest_path_for(tasks, output) if (resume or distributed) else None
    return run_tasks(spec, tasks, processors, workers=workers, scheduler=scheduler, manifest=manifest,
                     resume=resume, progress=progress, log=log)
