"""`LiveHost`: run the separator live on an audio interface through sounddevice.

A duplex ``sounddevice.Stream`` calls :meth:`LiveHost._callback` once per block
in PortAudio's audio thread. The callback:

- never raises and never blocks: everything is inside ``try/except``; on an error
  the input is passed through, the error is counted and its text kept for the
  status line (no printing, no locks, no file I/O in the callback);
- allocates no audio buffers: the engine reads ``indata`` and writes ``outdata``
  in place (channels-first views), with its own buffers preallocated;
- measures its own load: time spent / block period (``time.perf_counter``);
- counts xruns from PortAudio's status flags (input/output under- and overflows).

The main thread shows a status line (latency = algorithmic + device, load, xruns,
preset, mode, mix) and, on a terminal, reads single keys::

    1-9  select preset        n/p  next/previous preset
    m    toggle isolate/remove b or space  bypass (dry, latency-aligned)
    + -  mix up/down by 0.1    q    quit          h  help

Parameter changes go through the engine's click-free setters (a preset change is a
crossfade of conditioning vectors; bypass is ``mix = 0``, so the latency does not
jump). Ctrl-C or ``q`` stops the stream cleanly and prints a summary. When stdin
is not a terminal (scripts, tests) the host runs without keys, for ``duration``
seconds or until interrupted.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import select
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Sequence, Union

import numpy as np

from fewshot_sep.plugin_host.separator_plugin import (
    MAX_ENGINE_BLOCK,
    FewShotSeparator,
    PresetRef,
    check_mix,
    check_mode,
    load_model,
    resolve_preset_ref,
)
from fewshot_sep.utils.errors import UserError

PresetOrVector = Union[PresetRef, np.ndarray]
MIX_STEP = 0.1
#: GIL switch interval while streaming (see LiveHost.start).
LIVE_SWITCH_INTERVAL_S = 0.0005
#: Below this many frames per callback the fixed cost of a Python callback (tens of
#: microseconds) and of the separator call is a large share of the block period: at
#: 1 frame / 48 kHz the load measured 144 %. Smaller blocks are allowed, with a warning.
MIN_RECOMMENDED_BLOCK = 64
NONFINITE_ERROR = (
    "the separator's output held NaN/Inf (contained: wet signal muted); the preset's conditioning is out of "
    "the model's range: rebuild the preset"
)
KEY_HELP = (
    "keys: 1-9 preset, n/p next/prev preset, m mode, b/space bypass, +/- mix, h help, q quit"
)


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
    # waiting (descheduled by the OS, or blocked), not computing. Time a VM's host steals from
    # the virtual CPU still counts as the thread's CPU time, so it shows as computing.
    waiting_overruns: int = 0

    def text(self) -> str:
        """A short human-readable summary."""
        lines = [
            f"ran {self.seconds:.1f} s: {self.callbacks} callbacks ({self.frames} frames per channel) at "
            f"{self.sample_rate} Hz, block {self.blocksize or 'variable'}, {self.channels} channel(s)",
            f"xruns: {self.xruns} (input overflow {self.input_overflows}, input underflow "
            f"{self.input_underflows}, output overflow {self.output_overflows}, output underflow "
            f"{self.output_underflows}) in {self.xrun_callbacks} callback(s)"
            + (f" at {', '.join(f'{t:.2f}' for t in self.xrun_times_s[:8])} s" if self.xrun_times_s else ""),
            f"callback load: mean {100 * self.mean_load:.1f} %, max {100 * self.max_load:.1f} % of the block period "
            f"({self.overruns} callback(s) over it, {self.waiting_overruns} of them waiting, not computing); "
            f"longest gap between callbacks {1000 * self.max_interval_s:.1f} ms"
            + (f" (block period {1000 * self.blocksize / self.sample_rate:.1f} ms)" if self.blocksize and self.sample_rate else ""),
            f"latency: {1000 * (self.latency_algorithmic_s + self.latency_device_s):.1f} ms "
            f"(algorithmic {1000 * self.latency_algorithmic_s:.1f} ms + device {1000 * self.latency_device_s:.1f} ms)",
            f"errors in the audio callback: {self.errors}"
            + (f" (last: {self.last_error})" if self.last_error else ""),
        ]
        return "\n".join(lines)


def parse_device(value: str | int | None) -> int | str | None:
    """A device given on the command line: an index (``3``) or a name substring (``"Scarlett"``)."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return text or None


def reinitialize_portaudio() -> None:
    """Re-scan audio host APIs (PortAudio only sees a JACK server running at initialisation)."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


class LiveHost:
    """Duplex live separation on an audio interface.

    Args:
        presets: presets to switch between (``builtin:NAME``, library names, paths,
            ``Preset`` objects, or raw conditioning vectors ``[D]``); the first is active.
        model: model folder or ModelFiles (None = packaged model / $FEWSHOT_SEP_MODEL).
        input_device, output_device: sounddevice device index or name substring
            (None = the system default).
        samplerate: Hz; None = the device's default rate.
        blocksize: frames per callback (1..8192; 0 = whatever the device prefers).
        channels: channels in and out.
        mode, mix: initial mode and mix (default: the first preset's defaults).
        latency: PortAudio latency hint ("low", "high" or seconds).
        out: where the status line and summary go (default stderr).
    """

    def __init__(
        self,
        presets: Sequence[PresetOrVector],
        *,
        model: Any = None,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        samplerate: float | None = None,
        blocksize: int = 256,
        channels: int = 2,
        mode: str | None = None,
        mix: float | None = None,
        latency: str | float = "low",
        out: IO[str] | None = None,
    ) -> None:
        if not presets:
            raise UserError("give at least one preset (--preset builtin:NAME, a library name or a .json file)")
        if not 0 <= int(blocksize) <= MAX_ENGINE_BLOCK:
            raise UserError(f"block size {blocksize} is invalid: use 1..{MAX_ENGINE_BLOCK} (or 0 = device default)")
        if not 1 <= int(channels) <= 32:
            raise UserError(f"channel count {channels} is invalid: use 1..32 (--channels)")
        self.model = load_model(model)
        self.presets: list[Any] = [
            np.asarray(p, np.float32) if isinstance(p, np.ndarray) else resolve_preset_ref(p, self.model)
            for p in presets
        ]
        self.preset_index = 0
        self.separator = FewShotSeparator(model=self.model)
        self._apply_preset(0)
        first = self.presets[0]
        self.separator.mode = check_mode(mode) if mode is not None else getattr(first, "default_mode", "isolate")
        self.separator.mix = check_mix(mix) if mix is not None else getattr(first, "default_mix", 1.0)
        self.mix = self.separator.mix
        self.bypass = False
        self.input_device = parse_device(input_device)
        self.output_device = parse_device(output_device)
        self.requested_samplerate = samplerate
        self.blocksize = int(blocksize)
        self.channels = int(channels)
        self.latency_hint = latency
        self.out = out if out is not None else sys.stderr
        if 0 < self.blocksize < MIN_RECOMMENDED_BLOCK:
            self.out.write(
                f"warning: block size {self.blocksize} is very small: the callback's fixed cost is a large share "
                f"of each block, so expect a load over 100 % and xruns; use {MIN_RECOMMENDED_BLOCK} or more "
                "(--blocksize 256 is the default)\n"
            )
        self.stream: Any = None
        self.engine: Any = None
        self.sample_rate = 0
        self._stop_event = threading.Event()
        self.reset_counters()

    # ------------------------------------------------------------------ presets
    def preset_label(self, index: int | None = None) -> str:
        index = self.preset_index if index is None else index
        preset = self.presets[index]
        return preset.name if hasattr(preset, "name") else f"vector {index + 1}"

    def _apply_preset(self, index: int) -> None:
        # mode and mix are set explicitly once (in __init__), so a preset switch keeps
        # the performer's settings instead of jumping to the new preset's defaults.
        preset = self.presets[index]
        if isinstance(preset, np.ndarray):
            self.separator.conditioning = preset
        else:
            self.separator.preset = preset
        self.preset_index = index

    def select_preset(self, index: int) -> None:
        """Switch to preset `index` (0-based); crossfaded by the engine when streaming."""
        if not 0 <= index < len(self.presets):
            raise UserError(f"preset number {index + 1} does not exist: there are {len(self.presets)}")
        self._apply_preset(index)

    # ----------------------------------------------------------------- commands
    def handle_key(self, key: str) -> bool:
        """Apply one key command; returns False when the key asks to quit."""
        if key in ("q", "Q", "\x1b"):
            return False
        if key.isdigit() and key != "0":
            if int(key) <= len(self.presets):
                self.select_preset(int(key) - 1)
        elif key == "n":
            self.select_preset((self.preset_index + 1) % len(self.presets))
        elif key == "p":
            self.select_preset((self.preset_index - 1) % len(self.presets))
        elif key == "m":
            self.separator.mode = "remove" if self.separator.mode == "isolate" else "isolate"
        elif key in ("b", " "):
            self.set_bypass(not self.bypass)
        elif key in ("+", "="):
            self.set_mix(self.mix + MIX_STEP)
        elif key in ("-", "_"):
            self.set_mix(self.mix - MIX_STEP)
        elif key in ("h", "?"):
            self._print_line(KEY_HELP, newline=True)
        return True

    def set_mix(self, value: float) -> None:
        """Set the wet/dry mix (clamped to 0..1); it applies when not bypassed."""
        self.mix = round(min(1.0, max(0.0, float(value))), 3)
        if not self.bypass:
            self.separator.mix = self.mix

    def set_bypass(self, on: bool) -> None:
        """Bypass = dry signal, latency-aligned (the engine keeps running, so no click or jump)."""
        self.bypass = bool(on)
        self.separator.mix = 0.0 if self.bypass else self.mix

    # ----------------------------------------------------------------- callback
    def reset_counters(self) -> None:
        self.callbacks = 0
        self.frames = 0
        self.input_overflows = 0
        self.input_underflows = 0
        self.output_overflows = 0
        self.output_underflows = 0
        self.errors = 0
        self.last_error: str | None = None
        self.max_load = 0.0
        self._load_sum = 0.0
        self.last_load = 0.0
        # Longest time between two callback starts (a late start shows here, not in the load).
        self.max_interval_s = 0.0
        self._last_start = 0.0
        # Callbacks that reported an xrun (one xrun usually raises two flags at once), and
        # the stream positions (frames) of the first 32, preallocated for the callback.
        self.xrun_callbacks = 0
        self._xrun_frames = np.zeros(32, dtype=np.int64)
        # Callbacks that took longer than their block period, and those of them whose thread
        # had under half the period of CPU time (waiting: descheduled or blocked, not computing).
        self.overruns = 0
        self.waiting_overruns = 0
        self._nonfinite_seen = self.engine.nonfinite_outputs if getattr(self, "engine", None) is not None else 0

    @property
    def xrun_times_s(self) -> list[float]:
        """Stream times (seconds) of the first 32 callbacks that reported an xrun."""
        rate = self.sample_rate or 1
        return [float(f) / rate for f in self._xrun_frames[: self.xrun_callbacks]]

    @property
    def xruns(self) -> int:
        return self.input_overflows + self.input_underflows + self.output_overflows + self.output_underflows

    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        started = time.perf_counter()
        started_cpu = time.thread_time()
        if self._last_start:
            gap = started - self._last_start
            if gap > self.max_interval_s:
                self.max_interval_s = gap
        self._last_start = started
        try:
            if status:
                if status.input_overflow or status.input_underflow or status.output_overflow or status.output_underflow:
                    if self.xrun_callbacks < self._xrun_frames.shape[0]:
                        self._xrun_frames[self.xrun_callbacks] = self.frames
                    self.xrun_callbacks += 1
                self.input_overflows += bool(status.input_overflow)
                self.input_underflows += bool(status.input_underflow)
                self.output_overflows += bool(status.output_overflow)
                self.output_underflows += bool(status.output_underflow)
            # Channels-first views of PortAudio's buffers: the engine reads and writes
            # them in place, so the steady state allocates no audio memory.
            self.engine.process_block(indata.T, out=outdata.T)
            if self.engine.nonfinite_outputs != self._nonfinite_seen:  # contained by the engine; reported here
                self._nonfinite_seen = self.engine.nonfinite_outputs
                self.errors += 1
                self.last_error = NONFINITE_ERROR
        except Exception as err:  # never let an exception reach PortAudio: pass audio through
            self.errors += 1
            self.last_error = f"{type(err).__name__}: {err}"
            try:
                outdata[:] = indata
            except Exception:
                outdata.fill(0)
        finally:
            self.callbacks += 1
            self.frames += frames
            if frames:
                load = (time.perf_counter() - started) * self.sample_rate / frames
                self.last_load = load
                self._load_sum += load
                if load > self.max_load:
                    self.max_load = load
                if load >= 1.0:
                    self.overruns += 1
                    if (time.thread_time() - started_cpu) * self.sample_rate / frames < 0.5:
                        self.waiting_overruns += 1

    # ------------------------------------------------------------------- stream
    def _resolve_samplerate(self) -> int:
        import sounddevice as sd

        if self.requested_samplerate is not None:
            rate = float(self.requested_samplerate)
            if not (math.isfinite(rate) and rate > 0):
                raise UserError(f"sample rate {self.requested_samplerate} is invalid: give Hz, e.g. 48000")
            return int(round(rate))
        try:
            info = sd.query_devices(self.output_device, "output")
        except (ValueError, sd.PortAudioError) as err:
            raise UserError(f"output device {self.output_device!r}: {err}; list devices with `fewshot-sep devices`") from err
        return int(round(info["default_samplerate"]))

    def start(self) -> None:
        """Open and start the duplex stream (raises UserError with a hint on device problems)."""
        import sounddevice as sd

        self.sample_rate = self._resolve_samplerate()
        self.engine = self.separator.engine_for(self.sample_rate, self.channels)
        self.engine.reset()
        # Warm up the engine (first ONNX runs allocate) before real time starts.
        silence = np.zeros((self.channels, max(1, self.blocksize or 256)), dtype=np.float32)
        for _ in range(8):
            self.engine.process_block(silence)
        self.engine.reset()
        self.reset_counters()
        try:
            self.stream = sd.Stream(
                samplerate=self.sample_rate,
                blocksize=self.blocksize,
                device=(self.input_device, self.output_device),
                channels=self.channels,
                dtype="float32",
                latency=self.latency_hint,
                callback=self._callback,
            )
        except (ValueError, sd.PortAudioError) as err:
            raise UserError(
                f"cannot open audio devices (input {self.input_device!r}, output {self.output_device!r}) at "
                f"{self.sample_rate} Hz, {self.channels} channel(s), block {self.blocksize}: {err}; "
                "list devices with `fewshot-sep devices` and pick them with --input/--output, "
                "or change --samplerate/--channels"
            ) from err
        self._started_at = time.monotonic()
        # The callback runs Python in PortAudio's audio thread and must win the GIL
        # back quickly (onnxruntime releases it while the graph runs); the default 5 ms
        # switch interval is a whole 256-frame period at 48 kHz. Restored by stop().
        self._saved_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._saved_switch_interval, LIVE_SWITCH_INTERVAL_S))
        # A full garbage collection walks every Python object (tens of ms in a big
        # process); if it starts inside the callback, that block is late. Freezing
        # the objects that exist now makes later collections cheap.
        gc.collect()
        gc.freeze()
        self._gc_frozen = True
        try:
            self.stream.start()
        except Exception as err:  # sounddevice.PortAudioError and friends
            self.stop()
            raise UserError(
                f"cannot start the audio stream at {self.sample_rate} Hz, block {self.blocksize}: {err}; "
                "check the devices with `fewshot-sep devices`"
            ) from err

    def stop(self) -> LiveSummary:
        """Stop and close the stream; return the run's summary."""
        seconds = time.monotonic() - getattr(self, "_started_at", time.monotonic())
        device_latency = self.device_latency_s
        if self.stream is not None:
            with contextlib.suppress(Exception):
                self.stream.stop()
            with contextlib.suppress(Exception):
                self.stream.close()
        self.stream = None
        if getattr(self, "_gc_frozen", False):
            gc.unfreeze()
            self._gc_frozen = False
        saved = getattr(self, "_saved_switch_interval", None)
        if saved is not None:
            sys.setswitchinterval(saved)
            self._saved_switch_interval = None
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
            mean_load=self._load_sum / self.callbacks if self.callbacks else 0.0,
            latency_algorithmic_s=self.algorithmic_latency_s,
            latency_device_s=device_latency,
            xrun_times_s=self.xrun_times_s,
            xrun_callbacks=self.xrun_callbacks,
            overruns=self.overruns,
            waiting_overruns=self.waiting_overruns,
            max_interval_s=self.max_interval_s,
            sample_rate=self.sample_rate,
            blocksize=self.blocksize,
            channels=self.channels,
        )

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency of the running engine, in samples at the stream's rate."""
        return int(self.engine.latency_samples) if self.engine is not None else 0

    @property
    def algorithmic_latency_s(self) -> float:
        return self.latency_samples / self.sample_rate if self.sample_rate else 0.0

    @property
    def device_latency_s(self) -> float:
        """Input + output latency as PortAudio reports it for the open stream."""
        if self.stream is None:
            return getattr(self, "_last_device_latency", 0.0)
        latency = self.stream.latency
        total = float(sum(latency)) if isinstance(latency, (tuple, list)) else float(latency)
        self._last_device_latency = total
        return total

    def status_text(self) -> str:
        """The one-line status shown while running."""
        algo = 1000 * self.algorithmic_latency_s
        device = 1000 * self.device_latency_s
        mean = self._load_sum / self.callbacks if self.callbacks else 0.0
        error = f" last: {self.last_error[:40]}" if self.last_error else ""
        return (
            f"preset {self.preset_index + 1}/{len(self.presets)} {self.preset_label()!r} | "
            f"{self.separator.mode} | mix {self.mix:.1f}{' BYPASS' if self.bypass else ''} | "
            f"latency {algo + device:.1f} ms (algo {algo:.1f} + device {device:.1f}) | "
            f"load {100 * mean:.0f}% (max {100 * self.max_load:.0f}%) | xruns {self.xruns} | "
            f"errors {self.errors}{error}"
        )

    def _print_line(self, text: str, newline: bool = False) -> None:
        if newline:
            self.out.write("\r\x1b[K" + text + "\n")
        else:
            self.out.write("\r\x1b[K" + text)
        self.out.flush()

    def request_stop(self) -> None:
        """Ask :meth:`run` to return (thread-safe)."""
        self._stop_event.set()

    # ---------------------------------------------------------------------- run
    def run(
        self,
        duration: float | None = None,
        interactive: bool | None = None,
        status_interval: float | None = None,
    ) -> LiveSummary:
        """Start, run until `duration` seconds pass, ``q``, Ctrl-C or :meth:`request_stop`; stop.

        Args:
            duration: seconds to run (None = until stopped).
            interactive: read keys from stdin (None = only when stdin is a terminal).
            status_interval: seconds between status updates (default: 0.5 on a terminal,
                where the line is redrawn in place; 5 otherwise, one line each).

        Returns:
            The LiveSummary (also printed).
        """
        if interactive is None:
            interactive = _stdin_is_tty()
        if status_interval is None:
            status_interval = 0.5 if interactive else 5.0
        self._stop_event.clear()
        self.start()
        deadline = math.inf if duration is None else time.monotonic() + float(duration)
        self._print_line(
            f"live: {self.sample_rate} Hz, block {self.blocksize or 'variable'}, {self.channels} ch, "
            f"latency {1000 * (self.algorithmic_latency_s + self.device_latency_s):.1f} ms. "
            + (KEY_HELP if interactive else "Ctrl-C to stop."),
            newline=True,
        )
        try:
            with _cbreak_stdin(interactive) as keys:
                next_status = time.monotonic()
                while not self._stop_event.is_set():
                    now = time.monotonic()
                    if now >= deadline:
                        break
                    if now >= next_status:
                        self._print_line(self.status_text(), newline=not interactive)
                        next_status = now + status_interval
                    wait = max(0.0, min(0.1, deadline - now, next_status - now))
                    if keys is not None:
                        key = keys(wait)
                        if key is not None and not self._safe_key(key):
                            break
                    else:
                        self._stop_event.wait(wait)
        except KeyboardInterrupt:
            pass
        finally:
            summary = self.stop()
        self._print_line("", newline=False)
        self.out.write(summary.text() + "\n")
        self.out.flush()
        return summary

    def _safe_key(self, key: str) -> bool:
        try:
            return self.handle_key(key)
        except UserError as err:
            self._print_line(str(err), newline=True)
            return True


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def _cbreak_stdin(enabled: bool):
    """Yield a ``read_key(timeout) -> str | None`` on a terminal in cbreak mode, else None."""
    if not enabled:
        yield None
        return
    try:
        import termios
        import tty
    except ImportError:  # Windows: fall back to no keys
        yield None
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        # TCSANOW, not tty's default TCSAFLUSH: keys typed while the app starts are kept.
        tty.setcbreak(fd, termios.TCSANOW)

        def read_key(timeout: float) -> str | None:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            data = os.read(fd, 1)
            return data.decode("utf-8", "replace") if data else "q"

        yield read_key
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
