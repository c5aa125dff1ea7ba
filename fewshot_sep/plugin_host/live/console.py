"""The live host's console: status line, level meters, preset list and keys.

It runs in the main thread, apart from the audio callback (`fewshot_sep.plugin_host.live.audio`): it reads
the callback's counters and peaks and changes parameters through the host's
click-free setters; the callback never waits for it.

On a terminal the status line is redrawn in place (ANSI ``ESC[K``) every half
second; otherwise (a pipe, a log file, a service) every line is a plain line with
no escape codes, printed every 5 seconds and after each key. Keys (read only when
stdin is a terminal)::

    1-9  select preset        n/p  next/previous preset
    m    toggle isolate/remove b or space  bypass (dry, latency-aligned)
    + -  mix up/down by 0.1    q    quit          h  help

A key that does nothing (no such preset, mix already at its end, an unknown key)
says so on a line of its own.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import select
import shutil
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator

from fewshot_sep.utils.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from fewshot_sep.plugin_host.live.audio import LiveSummary

MIX_STEP = 0.1
KEY_HELP = "keys: 1-9 preset, n/p next/prev preset, m mode, b/space bypass, +/- mix, h help, q quit"
#: The meters' range: -60 dBFS (empty bar) .. 0 dBFS (full).
METER_FLOOR_DB = -60.0
METER_WIDTH = 8


#: How the status line gives up detail to fit a terminal: indexes into its (head, meters,
#: latency, load) renditions, richest first (see LiveConsole.status_text).
STATUS_STEPS = ((0, 0, 0, 0), (0, 0, 1, 0), (0, 0, 1, 1), (0, 0, 2, 1), (0, 0, 2, 2), (1, 0, 2, 2), (1, 1, 2, 2))


def level_db(peak: float) -> float:
    """A linear peak as dBFS (-inf for silence)."""
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def level_text(peak: float) -> str:
    """``-12 dB`` (``-inf dB`` for silence, ``CLIP`` at full scale)."""
    db = level_db(peak)
    return "CLIP" if peak >= 1.0 else ("-inf dB" if db == -math.inf else f"{db:.0f} dB")


def meter(peak: float, width: int = METER_WIDTH) -> str:
    """``[#####...] -12 dB``: a bar from -60 to 0 dBFS and the peak."""
    db = level_db(peak)
    filled = 0 if db <= METER_FLOOR_DB else min(width, round(width * (1 - db / METER_FLOOR_DB)))
    return f"[{'#' * filled}{'.' * (width - filled)}] {level_text(peak)}"


def is_terminal(stream: IO[str]) -> bool:
    """True when `stream` is a terminal (ANSI redraws), False for pipes, files, StringIO."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class LiveConsole:
    """Status, meters, preset list and key commands for a :class:`LiveHost`, written to `out`.

    `host` is the LiveHost it shows and drives (typed loosely: the host owns the console,
    so this module does not import it).
    """

    def __init__(self, host: Any, out: IO[str]) -> None:
        self.host = host
        self.out = out
        self.ansi = is_terminal(out)

    # ------------------------------------------------------------------ display
    def write_line(self, text: str, newline: bool = True) -> None:
        """A line: redrawn in place on a terminal (``newline=False``), else always a plain line."""
        if self.ansi:
            width = self.columns()
            text = text if newline or len(text) <= width else text[: max(0, width - 3)] + "..."
            self.out.write("\r\x1b[K" + text + ("\n" if newline else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def columns(self) -> int:
        """Usable width of the terminal `out` writes to (one column spare, so a line never wraps)."""
        try:
            columns = os.get_terminal_size(self.out.fileno()).columns
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
            columns = 0
        return (columns or shutil.get_terminal_size((120, 24)).columns) - 1

    def preset_list_text(self) -> str:
        """``presets: [1 violin]  2 bass``: every preset, the current one in brackets."""
        host = self.host
        items = [f"[{i + 1} {host.preset_label(i)}]" if i == host.preset_index else f"{i + 1} {host.preset_label(i)}"
                 for i in range(len(host.presets))]
        return "presets: " + "  ".join(items)

    def status_text(self, width: int | None = None) -> str:
        """The status line: preset, mode, mix, meters (peaks since the last line), latency, load, xruns, errors.

        With `width` (a terminal's), detail goes first where it matters least (the latency's
        split, the load's maximum, the latency, the load, the long head, the meters' bars; the
        latency is in the start line and the summary), so the preset, the meters, xruns and
        errors stay in sight on a narrow terminal.
        """
        host, audio = self.host, self.host.audio
        peak_in, peak_out = audio.take_peaks()
        algo, device = 1000 * host.algorithmic_latency_s, 1000 * host.device_latency_s
        bypass = " BYPASS" if host.bypass else ""
        position, name = f"{host.preset_index + 1}/{len(host.presets)}", repr(host.preset_label())
        heads = [f"preset {position} {name} | {host.separator.mode} | mix {host.mix:.1f}{bypass}",
                 f"{position} {name} {host.separator.mode} mix {host.mix:.1f}{bypass}"]
        meters = [f"in {meter(peak_in)} out {meter(peak_out)}", f"in {level_text(peak_in)} out {level_text(peak_out)}"]
        latencies = [f"latency {algo + device:.1f} ms (algo {algo:.1f} + device {device:.1f})",
                     f"latency {algo + device:.1f} ms", ""]
        loads = [f"load {100 * audio.mean_load:.0f}% (max {100 * audio.max_load:.0f}%)",
                 f"load {100 * audio.mean_load:.0f}%", ""]
        error = f" last: {audio.last_error[:40]}" if audio.last_error else ""
        tail = f"xruns {audio.xruns} | errors {audio.errors}{error}"
        line = ""
        for h, m, lat, load in STATUS_STEPS:
            line = " | ".join(p for p in (heads[h], meters[m], latencies[lat], loads[load], tail) if p)
            if width is None or len(line) <= width:
                break
        return line

    # --------------------------------------------------------------------- keys
    def handle_key(self, key: str) -> bool:
        """Apply one key; False when it asks to quit. Keys that change nothing say why."""
        host = self.host
        count = len(host.presets)
        if key in ("q", "Q", "\x1b"):
            return False
        feedback: str | None = None
        preset_before = host.preset_index
        if key.isdigit():
            if 1 <= int(key) <= count:
                host.select_preset(int(key) - 1)
            else:
                feedback = f"key {key}: there is no preset {key} ({count} preset(s): keys 1-{min(count, 9)})"
        elif key in ("n", "p"):
            if count == 1:
                feedback = f"key {key}: only one preset; give more with --preset to switch between them"
            else:
                host.select_preset((host.preset_index + (1 if key == "n" else -1)) % count)
        elif key == "m":
            host.separator.mode = "remove" if host.separator.mode == "isolate" else "isolate"
        elif key in ("b", " "):
            host.set_bypass(not host.bypass)
        elif key in ("+", "=", "-", "_"):
            feedback = self._mix_key(key)
        elif key in ("h", "?"):
            feedback = KEY_HELP
        else:
            feedback = f"key {key!r} does nothing; {KEY_HELP}"
        if feedback is not None:
            self.write_line(feedback)
        if host.preset_index != preset_before:
            self.write_line(self.preset_list_text())
        return True

    def _mix_key(self, key: str) -> str | None:
        host = self.host
        up = key in ("+", "=")
        if host.mix >= 1.0 and up or host.mix <= 0.0 and not up:
            return f"key {key}: mix is already {host.mix:.1f} ({'1 = fully separated' if up else '0 = dry'})"
        host.set_mix(host.mix + (MIX_STEP if up else -MIX_STEP))
        return f"mix {host.mix:.1f} is kept for when bypass is off (b)" if host.bypass else None

    def safe_key(self, key: str) -> bool:
        """`handle_key`, with a UserError shown instead of raised."""
        try:
            return self.handle_key(key)
        except UserError as err:
            self.write_line(str(err))
            return True

    # ---------------------------------------------------------------------- run
    def run(self, duration: float | None, interactive: bool, status_interval: float | None,
            stop_event: threading.Event) -> "LiveSummary":
        """Start the host, show status and read keys until `duration`, ``q``, Ctrl-C or `stop_event`."""
        host = self.host
        if status_interval is None:
            status_interval = 0.5 if self.ansi else 5.0
        host.start()
        deadline = math.inf if duration is None else time.monotonic() + float(duration)
        self.write_line(
            f"live: {host.stream.describe()}, {host.sample_rate} Hz, block {host.blocksize or 'variable'}, "
            f"{host.channels} ch, latency {1000 * (host.algorithmic_latency_s + host.device_latency_s):.1f} ms. "
            + (KEY_HELP if interactive else "Ctrl-C to stop.")
        )
        self.write_line(self.preset_list_text())
        try:
            with cbreak_stdin(interactive) as keys:
                next_status = time.monotonic()
                while not stop_event.is_set():
                    now = time.monotonic()
                    if now >= deadline:
                        break
                    if now >= next_status:
                        self.write_line(self.status_text(self.columns() if self.ansi else None), newline=False)
                        next_status = now + status_interval
                    wait = max(0.0, min(0.1, deadline - now, next_status - now))
                    if keys is None:
                        stop_event.wait(wait)
                        continue
                    key = keys(wait)
                    if key is not None:
                        if not self.safe_key(key):
                            break
                        next_status = 0.0  # show the key's effect now
        except KeyboardInterrupt:
            pass
        finally:
            summary = host.stop()
        if self.ansi:
            self.out.write("\r\x1b[K")
        self.out.write(summary.text() + "\n")
        self.out.flush()
        return summary


def stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def cbreak_stdin(enabled: bool) -> Iterator[Callable[[float], str | None] | None]:
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
