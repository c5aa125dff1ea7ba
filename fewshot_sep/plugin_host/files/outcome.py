"""What a batch did: one FileOutcome per file, the BatchSummary, and the batch's progress and log lines.

:class:`FileOutcome` is also a job manifest line (`record`) and a file's entry in
``separate --json`` (`report`). No torch and no dask here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from fewshot_sep.plugin_host.files.manifest import JobManifest, utc_stamp
from fewshot_sep.plugin_host.files.processing import FileResult, done_message, failed_message
from fewshot_sep.utils.errors import UserError


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
    latency_samples: int = 0  # the separator delay compensated in the outputs, at the file's rate
    labels: list[tuple[str, str]] = field(default_factory=list)  # (preset, mode) per output
    warnings: list[str] = field(default_factory=list)  # e.g. removing a part that is quiet in the mix

    def record(self, job: str) -> dict[str, Any]:
        """The manifest line of this outcome."""
        return {
            "input": self.input, "input_sha256": self.input_sha256, "input_bytes": self.input_bytes,
            "input_mtime_ns": self.input_mtime_ns, "outputs": self.outputs, "output_bytes": self.output_bytes,
            "status": self.status, "error": self.error, "seconds": round(self.seconds, 6),
            "wall_seconds": round(self.wall_seconds, 3), "job": job, "worker": self.worker,
            "finished": utc_stamp(),
        }

    def report(self) -> dict[str, Any]:
        """This file's entry in ``separate --json`` (see `BatchSummary.report`)."""
        done = self.status == "done"
        return {
            "input": self.input,
            "status": self.status,
            "outputs": _labelled(self.outputs, self.labels),
            "duration_s": round(self.seconds, 6) if done else None,
            "sample_rate": self.sample_rate if done else None,
            "channels": self.channels if done else None,
            "latency_samples": self.latency_samples if done else None,
            "nonfinite_samples": self.nonfinite_samples if done else None,
            "error": self.error,
            "warnings": list(self.warnings),
        }


def _labelled(paths: Sequence[str], labels: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """``[{"path", "preset", "mode"}]`` for output paths and their ``(preset, mode)`` labels."""
    out = []
    for i, path in enumerate(paths):
        preset, mode = labels[i] if i < len(labels) else (None, None)
        out.append({"path": path, "preset": preset, "mode": mode})
    return out


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
    tasks: list[Any] = field(default_factory=list)  # every FileTask of the job, in input order

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

    def report(self) -> dict[str, Any]:
        """The ``separate --json`` document: one entry per input, in input order, and the totals.

        ``files[i]``: ``input``, ``status`` (done, failed, skipped), ``outputs`` (``path``,
        ``preset``, ``mode``), ``duration_s``, ``sample_rate`` (Hz), ``channels``,
        ``latency_samples`` (the compensated separator delay at the file's rate),
        ``nonfinite_samples``, ``error``, ``warnings`` (null where a file was not done).
        """
        outcomes = {o.input: o for o in self.done + self.failed}
        files = []
        for task in self.tasks:
            outcome = outcomes.get(task.input)
            if outcome is not None:
                files.append(outcome.report())
            else:  # skipped (--resume): done by an earlier run
                skipped = FileOutcome(task.input, "skipped", list(task.targets), labels=list(task.labels))
                files.append(skipped.report())
        return {
            "command": "separate",
            "status": "failed" if self.failed else "ok",
            "exit_code": 1 if self.failed else 0,
            "files": files,
            "summary": {
                "done": len(self.done), "skipped": len(self.skipped), "failed": len(self.failed),
                "wall_s": round(self.wall_seconds, 3), "audio_s": round(self.audio_seconds, 6),
                "workers": self.workers, "manifest": str(self.manifest) if self.manifest else None,
            },
            "error": None,
        }

    def text(self) -> str:
        """One summary line: done, skipped, failed, throughput."""
        return (
            f"done {len(self.done)}, skipped {len(self.skipped)}, failed {len(self.failed)} "
            f"in {self.wall_seconds:.1f} s on {self.workers} worker(s): {self.files_per_second:.2f} files/s, "
            f"{self.audio_seconds_per_second:.1f} s of audio per second"
        )


class BatchProgress:
    """The batch's bar (seconds of audio), its log lines, the manifest lines and the summary."""

    def __init__(self, todo: Sequence[Any], summary: BatchSummary, book: JobManifest | None, job: str,
                 progress: bool | None, log: Callable[[str], Any]) -> None:
        from tqdm import tqdm

        from fewshot_sep.utils.audio import audio_info

        self.count, self.summary, self.book, self.job, self.log = len(todo), summary, book, job, log
        self.expected: dict[str, float] = {}
        for task in todo:  # headers only, for the bar's total
            try:
                rate, _, frames = audio_info(task.input)
                self.expected[task.input] = frames / rate
            except UserError:
                self.expected[task.input] = 0.0
        self.bar = tqdm(
            total=round(sum(self.expected.values()), 2), unit="s", desc="batch",
            disable=(not sys.stderr.isatty()) if progress is None else not progress,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of audio{postfix} "
                       "[{elapsed}<{remaining}]",
        )
        self.finished_seconds = 0.0

    def inside(self) -> Callable[[float, float], None]:
        """A progress callback for the file about to run here (moves the bar within the file)."""
        base = self.finished_seconds

        def callback(done_s: float, total_s: float) -> None:
            self.bar.update(max(0.0, round(base + done_s - self.bar.n, 4)))

        return callback

    def finish(self, index: int, outcome: FileOutcome) -> None:
        """Record, log and count one finished file."""
        from tqdm import tqdm

        if self.book is not None:
            self.book.append(outcome.record(self.job))  # only now: after the outputs were renamed into place
        prefix = f"[{index}/{self.count}] " if self.count > 1 else ""
        if outcome.status == "done":
            self.summary.done.append(outcome)
            lines = [done_message(prefix, FileResult(Path(outcome.input), [Path(p) for p in outcome.outputs],
                                                     outcome.seconds, outcome.sample_rate, outcome.channels,
                                                     nonfinite_samples=outcome.nonfinite_samples))]
            lines += [prefix + w for w in outcome.warnings]
        else:
            self.summary.failed.append(outcome)
            lines = [failed_message(prefix, outcome.input, outcome.error or "unknown error")]
        with tqdm.external_write_mode(file=sys.stderr):  # the line goes above the bar, not through it
            for line in lines:
                self.log(line)
        self.finished_seconds += self.expected.get(outcome.input, 0.0)
        self.bar.set_postfix_str(f"files {index}/{self.count}", refresh=False)
        self.bar.update(max(0.0, round(self.finished_seconds - self.bar.n, 4)))

    def close(self) -> None:
        self.bar.close()


def error_report(message: str) -> dict[str, Any]:
    """The ``separate --json`` document of a run refused before any file (a usage error, exit 2)."""
    return {"command": "separate", "status": "error", "exit_code": 2, "files": [], "summary": None,
            "error": message}
