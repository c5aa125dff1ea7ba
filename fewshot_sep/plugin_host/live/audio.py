"""The live host's audio callback: one owner of the per-block work, for PortAudio and JACK.

:meth:`LiveAudio.process` runs in the audio thread (PortAudio's callback thread or
JACK's process thread) once per block, on channels-first ``[channels, frames]``
float32 views:

- it never raises and never blocks: everything is inside ``try/except``; on an error
  the input is passed through (silence if even that fails), the error is counted and
  its text kept for the status line (no printing, no locks, no file I/O);
- it allocates no audio buffers: the engine reads the input and writes the output in
  place, with its own buffers preallocated;
- it measures its own load (time spent / block period, ``time.perf_counter``), the
  longest gap between two callbacks and, for callbacks over their period, whether the
  thread was computing or waiting (thread CPU time) and, if it was off the CPU, whether it
  blocked or was preempted (the thread's voluntary / involuntary context switches);
- it keeps the input and output peaks for the level meters (read and cleared by the
  console thread with :meth:`LiveAudio.take_peaks`).

Xruns come from outside the block: PortAudio's status flags
(:meth:`LiveAudio.portaudio_callback`) or the JACK server's xrun notifications
(:meth:`LiveAudio.note_server_xrun`).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NONFINITE_ERROR = (
    "the separator's output held NaN/Inf (contained: wet signal muted); the preset's conditioning is out of "
    "the model's range: rebuild the preset"
)
#: Stream positions of the first this-many xruns are kept (preallocated ring, no allocation).
XRUN_TIMES_KEPT = 32
#: The first this-many overruns are kept: start time, load, CPU load, the thread's voluntary and
#: involuntary context switches, its minor page faults and its kernel (system) CPU load during the
#: callback (preallocated, no allocation).
OVERRUNS_KEPT = 1024


@dataclass
class LiveSummary:
    """Counters of a live run (all read after the stream stopped)."""

    seconds: float
    callbacks: int
    frames: int
    xruns: int
    input_overflows: int
    input_underflows: int
    output_overflows: int
    output_underflows: int
    errors: int
    last_error: str | None
    max_load: float
    mean_load: float
    latency_algorithmic_s: float
    latency_device_s: float
    sample_rate: int
    blocksize: int
    channels: int
    xrun_times_s: list[float]
    max_interval_s: float
    xrun_callbacks: int = 0
    overruns: int = 0  # callbacks that took longer than their block period
    # ... of which the callback thread ran on a CPU for under half the period: it was
    # waiting (descheduled by the OS, or blocked), not computing. In a VM, time the host reports
    # as stolen is not the thread's CPU time (Linux with paravirtual steal accounting): it shows as
    # waiting; a virtual CPU the host runs slower without reporting steal shows as computing.
    waiting_overruns: int = 0
    server_xruns: int = 0  # xruns the JACK server reported (live --jack)
    backend: str = "portaudio"
    notes: list[str] = field(default_factory=list)  # e.g. "the JACK server shut down"

    def text(self) -> str:
        """A short human-readable summary."""
        if self.backend == "jack":
            xruns = f"xruns: {self.xruns} reported by the JACK server"
        else:
            xruns = (
                f"xruns: {self.xruns} (input overflow {self.input_overflows}, input underflow "
                f"{self.input_underflows}, output overflow {self.output_overflows}, output underflow "
                f"{self.output_underflows}) in {self.xrun_callbacks} callback(s)"
            )
        if self.xrun_times_s:
            xruns += f" at {', '.join(f'{t:.2f}' for t in self.xrun_times_s[:8])} s"
        period = (f" (block period {1000 * self.blocksize / self.sample_rate:.1f} ms)"
                  if self.blocksize and self.sample_rate else "")
        lines = [
            f"ran {self.seconds:.1f} s: {self.callbacks} callbacks ({self.frames} frames per channel) at "
            f"{self.sample_rate} Hz, block {self.blocksize or 'variable'}, {self.channels} channel(s)",
            xruns,
            f"callback load: mean {100 * self.mean_load:.1f} %, max {100 * self.max_load:.1f} % of the block period "
            f"({self.overruns} callback(s) over it, {self.waiting_overruns} of them waiting, not computing); "
            f"longest gap between callbacks {1000 * self.max_interval_s:.1f} ms{period}",
            f"latency: {1000 * (self.latency_algorithmic_s + self.latency_device_s):.1f} ms "
            f"(algorithmic {1000 * self.latency_algorithmic_s:.1f} ms + device {1000 * self.latency_device_s:.1f} ms)",
            f"errors in the audio callback: {self.errors}"
            + (f" (last: {self.last_error})" if self.last_error else ""),
        ]
        return "\n".join(lines + self.notes)


class LiveAudio:
    """Per-block work of the live host and its counters (see the module docstring).

    Attributes set by the host before the stream starts: ``engine`` (anything with
    ``process_block(block [C, n], out=[C, n])``, ``latency_samples`` and
    ``nonfinite_outputs``) and ``sample_rate`` (Hz). ``load_history`` (optional, a
    preallocated float32 ring) receives every callback's load (benchmarks).
    """

    def __init__(self) -> None:
        self.engine: Any = None
        self.sample_rate = 0
        self.load_history: np.ndarray | None = None
        self.reset_counters()

    def reset_counters(self) -> None:
        """Zero every counter (the engine and its state are left alone)."""
        self.callbacks = 0
        self.frames = 0
        self.input_overflows = 0
        self.input_underflows = 0
        self.output_overflows = 0
        self.output_underflows = 0
        self.server_xruns = 0
        self.errors = 0
        self.last_error: str | None = None
        self.max_load = 0.0
        self.load_sum = 0.0
        self.last_load = 0.0
        # Longest time between two callback starts (a late start shows here, not in the load).
        self.max_interval_s = 0.0
        self._last_start = 0.0
        # Callbacks (or server notifications) that reported an xrun (one xrun usually raises two
        # PortAudio flags at once), and the stream positions (frames) of the first ones.
        self.xrun_callbacks = 0
        self._xrun_frames = np.zeros(XRUN_TIMES_KEPT, dtype=np.int64)
        # Callbacks that took longer than their block period, and those of them whose thread
        # had under half the period of CPU time (waiting: descheduled or blocked, not computing).
        self.overruns = 0
        self.waiting_overruns = 0
        # The first OVERRUNS_KEPT overruns: (start, time.perf_counter seconds; load; the thread's CPU
        # time / block period; its voluntary context switches (it blocked: a lock, the GIL) and
        # involuntary ones (the kernel preempted it), its minor page faults and the part of its
        # CPU load spent in the kernel during the callback), e.g. to match them against a
        # neighbour's slow periods (benchmarks).
        self._overrun_log = np.zeros((OVERRUNS_KEPT, 7), dtype=np.float64)
        self._overrun_log.fill(0.0)  # touched now: a first write in the callback would page-fault
        # Peaks since the console last read them (linear, 0..; see take_peaks).
        self._peak_in = 0.0
        self._peak_out = 0.0
        self._nonfinite_seen = self.engine.nonfinite_outputs if self.engine is not None else 0

    # ------------------------------------------------------------------ counters
    @property
    def xruns(self) -> int:
        """PortAudio's xrun flags plus the JACK server's xrun reports."""
        return (self.input_overflows + self.input_underflows + self.output_overflows + self.output_underflows
                + self.server_xruns)

    @property
    def xrun_times_s(self) -> list[float]:
        """Stream times (seconds) of the first callbacks that reported an xrun."""
        rate = self.sample_rate or 1
        kept = min(self.xrun_callbacks, XRUN_TIMES_KEPT)
        return [float(f) / rate for f in self._xrun_frames[:kept]]

    @property
    def overrun_log(self) -> list[tuple[float, float, float, int, int, int, float]]:
        """``(start time (time.perf_counter s), load, CPU load, voluntary switches, involuntary
        switches, minor page faults, kernel CPU load)`` of the first overruns (see OVERRUNS_KEPT).

        The CPU load is the callback thread's CPU time over the block period: close to the
        load when the thread was on the CPU the whole time (computing, or slowed down while on
        it), under half of it counts as waiting (see ``waiting_overruns``). Off the CPU, a
        voluntary context switch means the thread blocked (in this process: a lock, the GIL);
        only involuntary ones mean the kernel gave its CPU to another thread; none at all
        means the time went below the guest (a virtual machine's host). Page faults and kernel
        time tell work the kernel did for the callback (e.g. fresh memory) from its own.
        """
        kept = min(self.overruns, OVERRUNS_KEPT)
        return [(float(t), float(load), float(cpu), int(vol), int(invol), int(faults), float(kernel))
                for t, load, cpu, vol, invol, faults, kernel in self._overrun_log[:kept]]

    @property
    def mean_load(self) -> float:
        return self.load_sum / self.callbacks if self.callbacks else 0.0

    def _mark_xrun(self) -> None:
        if self.xrun_callbacks < XRUN_TIMES_KEPT:
            self._xrun_frames[self.xrun_callbacks] = self.frames
        self.xrun_callbacks += 1

    def note_server_xrun(self) -> None:
        """The JACK server reported an xrun (called from JACK's notification thread)."""
        self._mark_xrun()
        self.server_xruns += 1

    def note_error(self, err: BaseException) -> None:
        """Count an error caught around the callback (kept for the status line)."""
        self.errors += 1
        self.last_error = f"{type(err).__name__}: {err}"

    def take_peaks(self) -> tuple[float, float]:
        """``(input peak, output peak)`` since the last call, linear full scale; clears them."""
        peaks = (self._peak_in, self._peak_out)
        self._peak_in = self._peak_out = 0.0
        return peaks

    # ------------------------------------------------------------------ callbacks
    def portaudio_callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: Any,
                           status: Any) -> None:
        """sounddevice's callback signature: ``[frames, channels]`` buffers and PortAudio's status flags."""
        try:
            if status and (status.input_overflow or status.input_underflow or status.output_overflow
                           or status.output_underflow):
                self._mark_xrun()
                self.input_overflows += bool(status.input_overflow)
                self.input_underflows += bool(status.input_underflow)
                self.output_overflows += bool(status.output_overflow)
                self.output_underflows += bool(status.output_underflow)
        except Exception as err:  # a status object we do not understand: count it, keep the audio going
            self.note_error(err)
        # Channels-first views of PortAudio's buffers: the engine reads and writes them in place.
        self.process(indata.T, outdata.T, frames)

    def process(self, indata: np.ndarray, outdata: np.ndarray, frames: int) -> None:
        """Run one block: ``indata`` and ``outdata`` are ``[channels, frames]`` float32 views. Never raises."""
        started = time.perf_counter()
        started_cpu = time.thread_time()
        usage = resource.getrusage(resource.RUSAGE_THREAD)
        started_usage = (usage.ru_nvcsw, usage.ru_nivcsw, usage.ru_minflt, usage.ru_stime)
        if self._last_start:
            gap = started - self._last_start
            if gap > self.max_interval_s:
                self.max_interval_s = gap
        self._last_start = started
        try:
            self.engine.process_block(indata, out=outdata)
            if self.engine.nonfinite_outputs != self._nonfinite_seen:  # contained by the engine; reported here
                self._nonfinite_seen = self.engine.nonfinite_outputs
                self.errors += 1
                self.last_error = NONFINITE_ERROR
            if frames:
                self._meter(indata, outdata)
        except Exception as err:  # never let an exception reach the audio API: pass audio through
            self.note_error(err)
            try:
                outdata[...] = indata
            except Exception:
                outdata.fill(0)
        finally:
            self._count(started, started_cpu, started_usage, frames)

    def _meter(self, indata: np.ndarray, outdata: np.ndarray) -> None:
        # max() and min() reduce without a temporary (abs() would allocate a block); a NaN peak
        # compares False and is skipped.
        peak = max(float(indata.max()), -float(indata.min()))
        if peak > self._peak_in:
            self._peak_in = peak
        peak = max(float(outdata.max()), -float(outdata.min()))
        if peak > self._peak_out:
            self._peak_out = peak

    def _count(self, started: float, started_cpu: float, started_usage: tuple[int, int, int, float],
               frames: int) -> None:
        self.callbacks += 1
        self.frames += frames
        if not frames or not self.sample_rate:
            return
        load = (time.perf_counter() - started) * self.sample_rate / frames
        self.last_load = load
        self.load_sum += load
        if load > self.max_load:
            self.max_load = load
        if load >= 1.0:
            cpu_load = (time.thread_time() - started_cpu) * self.sample_rate / frames
            if self.overruns < OVERRUNS_KEPT:
                usage = resource.getrusage(resource.RUSAGE_THREAD)
                entry = self._overrun_log[self.overruns]
                entry[0], entry[1], entry[2] = started, load, cpu_load
                entry[3] = usage.ru_nvcsw - started_usage[0]
                entry[4] = usage.ru_nivcsw - started_usage[1]
                entry[5] = usage.ru_minflt - started_usage[2]
                entry[6] = (usage.ru_stime - started_usage[3]) * self.sample_rate / frames
            self.overruns += 1
            if cpu_load < 0.5:
                self.waiting_overruns += 1
        history = self.load_history
        if history is not None:
            history[(self.callbacks - 1) % history.shape[0]] = load

    def summary(self, seconds: float, latency_device_s: float, blocksize: int, channels: int,
                backend: str, notes: list[str] | None = None) -> LiveSummary:
        """The run's :class:`LiveSummary` (algorithmic latency from the engine)."""
        latency = int(self.engine.latency_samples) if self.engine is not None else 0
        return LiveSummary(
            seconds=seconds,
            callbacks=self.callbacks,
            frames=self.frames,
            xruns=self.xruns,
            input_overflows=self.input_overflows,
            input_underflows=self.input_underflows,
            output_overflows=self.output_overflows,
            output_underflows=self.output_underflows,
            errors=self.errors,
            last_error=self.last_error,
            max_load=self.max_load,
            mean_load=self.mean_load,
            latency_algorithmic_s=latency / self.sample_rate if self.sample_rate else 0.0,
            latency_device_s=latency_device_s,
            xrun_times_s=self.xrun_times_s,
            xrun_callbacks=self.xrun_callbacks,
            overruns=self.overruns,
            waiting_overruns=self.waiting_overruns,
            max_interval_s=self.max_interval_s,
            sample_rate=self.sample_rate,
            blocksize=blocksize,
            channels=channels,
            server_xruns=self.server_xruns,
            backend=backend,
            notes=list(notes or []),
        )
