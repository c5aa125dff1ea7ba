"""A real JACK server (dummy driver) and a player/recorder pair of JACK clients for live tests.

The server runs with the dummy driver (no sound card), non-realtime, under a
unique name so parallel test runs do not collide; ``JACK_DEFAULT_SERVER`` points
PortAudio (inside sounddevice) and JACK-Client at it.

Two separate JACK clients play and record, so the graph is
``player -> PortAudio (the live host) -> recorder`` with no cycle: JACK runs them
in that order within one period, and the recording is the host's output of the
same period. The player notes, in the period where it starts, how many frames
the host had processed before (``host.frames``), so the host's whole input
stream (silence, then the signal) is known exactly and can be replayed offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SAMPLE_RATE = 48000
PERIOD = 256


@dataclass
class JackServer:
    name: str
    process: subprocess.Popen
    log_path: Path
    realtime: bool

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


#: jackd's own messages (jackd2 1.9): a cycle of the dummy driver started a period or more
#: late, and a client did not finish its cycle in time. With ``-S`` (synchronous: the server
#: waits for its clients) a client that overruns its period also shows up as a late cycle,
#: so a late cycle is excused only when no callback overran (see ``xruns_explained``).
SERVER_LATE = "JackTimedDriver::Process XRun"
CLIENT_LATE = "was not finished"


def late_events(server_log: str) -> tuple[int, int]:
    """``(late driver cycles, late clients)`` reported in a slice of jackd's log."""
    return server_log.count(SERVER_LATE), server_log.count(CLIENT_LATE)


def late_clients(server_log: str) -> dict[str, int]:
    """How often jackd reported each client late (``client = NAME was not finished``), by name."""
    counts: dict[str, int] = {}
    for line in server_log.splitlines():
        if CLIENT_LATE in line and "client = " in line:
            name = line.split("client = ", 1)[1].split(" " + CLIENT_LATE, 1)[0].strip()
            counts[name] = counts.get(name, 0) + 1
    return counts


def xruns_explained(xrun_callbacks: int, server_late: int, client_late: int, overruns: int,
                    allowed_overruns: int = 0) -> bool:
    """True when the audio path kept its deadline and every xrun is jackd's own late cycle.

    ``overruns``: callbacks that took longer than their block period while computing
    (the host counts all overruns and, apart, those whose thread ran under half the
    period: waiting, descheduled by the guest OS or blocked, not computing; callers pass the
    difference); any such overrun, or any client jackd reports late, is the audio path's fault.
    Otherwise each callback with an xrun (one xrun raises input overflow + output
    underflow in the same callback, so callbacks are compared, not PortAudio flags)
    must match a late cycle of the dummy driver: on this shared VM its timer thread
    is itself sometimes woken 2-7 ms late, which no client can cause or prevent.
    ``allowed_overruns``: how many computing overruns a long run may have. The guest's
    thread CPU clock keeps running while the VM's host runs the virtual CPU slower without
    reporting it as steal (reported steal is subtracted: it shows as waiting); on this VM a
    fixed-work C loop at the callback's SCHED_FIFO priority, no Python and no model, had
    chunks 2-4.4x slower than its mean with CPU time = wall time (7 over 2x in 2 minutes),
    so such a stretch looks like computing; a long run on a busy host gets a small allowance.
    """
    return client_late == 0 and overruns <= allowed_overruns and xrun_callbacks <= server_late


def start_jack_server(log_dir: Path, sample_rate: int = SAMPLE_RATE, period: int = PERIOD) -> JackServer:
    """Start ``jackd -d dummy`` under a unique name; fail the test if jackd or JACK-Client is missing
    (the project's setup installs both: scripts/setup.sh and the ``dev`` extra)."""
    jackd = shutil.which("jackd")
    if jackd is None:
        pytest.fail("jackd is not installed: run scripts/setup.sh (Debian: apt-get install jackd2); "
                    "the live tests need a JACK server")
    try:
        import jack
    except ImportError:
        pytest.fail("the JACK-Client package is not installed: pip install -e . (or JACK-Client)")
    # Realtime scheduling first (-R): on a loaded machine the audio threads must win
    # against other work or the dummy driver reports xruns. Where it is not allowed
    # (unprivileged containers) jackd says so in its log and we restart without (-r).
    # -S: synchronous mode, the driver waits for the whole graph every period.
    for realtime in (True, False):
        name = f"fewshot-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        log_path = Path(log_dir) / f"{name}.log"
        flags = ["-R", "-P", "70"] if realtime else ["-r"]
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [jackd, "-n", name, *flags, "-S", "-d", "dummy", "-r", str(sample_rate), "-p", str(period)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"},
                preexec_fn=_die_with_parent,
            )
        server = JackServer(name, process, log_path, realtime)
        if _wait_for_server(server, jack) and not (realtime and "Cannot use real-time" in server.log()):
            return server
        stop_jack_server(server)
    raise RuntimeError(f"jackd did not start: {server.log()}")


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so no jackd is left running
    (an orphaned realtime jackd would steal the CPU from later runs)."""
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _wait_for_server(server: JackServer, jack, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while server.process.poll() is None:
        try:
            probe = jack.Client("probe", servername=server.name, no_start_server=True)
            probe.close()
            return True
        except jack.JackError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
    return False


def jack_lsp(server_name: str) -> dict[str, dict]:
    """``jack_lsp -c -l`` parsed: port -> {"connections": [...], "playback": (min, max), "capture": (min, max)}."""
    out = subprocess.run(["jack_lsp", "-s", server_name, "-c", "-l"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    ports: dict[str, dict] = {}
    current: dict | None = None
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            current = ports.setdefault(line.strip(), {"connections": []})
        elif "latency = [" in line:
            kind = "playback" if "playback" in line else "capture"
            low, high = line.split("[", 1)[1].split("]", 1)[0].split()
            current[kind] = (int(low), int(high))
        else:  # a connection: three spaces, then the other port
            current["connections"].append(line.strip())
    return ports


def stop_jack_server(server: JackServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


class PlayRecord:
    """Plays `signal` ``[C, n]`` into the host's JACK inputs and records its outputs.

    Attributes after :meth:`wait`: ``recording [C, n + tail]`` (host output from the
    period the signal started), ``host_offset`` (frames the host processed before).
    """

    def __init__(self, server_name: str, host, signal: np.ndarray, tail: int, host_client: str = "PortAudio") -> None:
        import jack

        self.host = host
        self.signal = np.ascontiguousarray(signal, dtype=np.float32)
        channels, n = self.signal.shape
        self.length = n + tail
        self.recording = np.zeros((channels, self.length), dtype=np.float32)
        self.armed = False
        self.start_frame: int | None = None
        self.host_offset: int | None = None
        self.recorded = 0
        self.done = threading.Event()
        self.player = jack.Client("fs-player", servername=server_name, no_start_server=True)
        self.recorder = jack.Client("fs-recorder", servername=server_name, no_start_server=True)
        self.outs = [self.player.outports.register(f"out_{c}") for c in range(channels)]
        self.ins = [self.recorder.inports.register(f"in_{c}") for c in range(channels)]
        self.player.set_process_callback(self._play)
        self.recorder.set_process_callback(self._record)
        self.player.activate()
        self.recorder.activate()
        self._connect(channels, host_client)

    def _connect(self, channels: int, host_client: str) -> None:
        client = self.player
        host_in = sorted(
            (p for p in client.get_ports(is_audio=True, is_input=True) if p.name.startswith(host_client + ":")),
            key=lambda p: p.name,
        )
        host_out = sorted(
            (p for p in client.get_ports(is_audio=True, is_output=True) if p.name.startswith(host_client + ":")),
            key=lambda p: p.name,
        )
        assert len(host_in) == channels and len(host_out) == channels, (
            f"expected {channels} {host_client} ports each way, found {[p.name for p in host_in + host_out]}"
        )
        for port in host_in + host_out:  # PortAudio (and live --jack) auto-connect to system:*; undo that
            for other in client.get_all_connections(port):
                if other.name.startswith("system:"):
                    if port.is_input:
                        client.disconnect(other, port)
                    else:
                        client.disconnect(port, other)
        for c in range(channels):
            client.connect(self.outs[c], host_in[c])
            client.connect(host_out[c], self.ins[c])

    def _play(self, frames: int) -> None:
        buffers = [port.get_array() for port in self.outs]
        if not self.armed:
            for b in buffers:
                b.fill(0)
            return
        now = self.player.last_frame_time
        if self.start_frame is None:
            self.start_frame = now
            self.host_offset = self.host.audio.frames  # the host runs after us in this period
        index = now - self.start_frame
        for c, b in enumerate(buffers):
            part = self.signal[c, index : index + frames]
            b[: part.shape[0]] = part
            b[part.shape[0] :] = 0

    def _record(self, frames: int) -> None:
        if self.start_frame is None:
            return
        index = self.recorder.last_frame_time - self.start_frame
        if index < 0 or index >= self.length:
            return
        count = min(frames, self.length - index)
        for c, port in enumerate(self.ins):
            self.recording[c, index : index + count] = port.get_array()[:count]
        self.recorded = index + count
        if self.recorded >= self.length:
            self.done.set()

    def play(self) -> None:
        self.armed = True

    def wait(self, timeout: float) -> None:
        # One blocking wait: a polling main thread would compete for the GIL with the
        # audio callbacks.
        if not self.done.wait(timeout):
            raise TimeoutError(f"recorded {self.recorded} of {self.length} frames in {timeout} s")

    def close(self) -> None:
        for client in (self.player, self.recorder):
            client.deactivate()
            client.close()
