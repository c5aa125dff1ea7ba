"""The live host as a native JACK client (``fewshot-sep live --jack``).

A JACK client of its own (``--client-name``, default "fewshot-sep") with named ports
(``in_L``/``in_R``/``out_L``/``out_R`` in stereo, ``in``/``out`` in mono,
``in_1``... beyond two channels), connected to the system's physical ports unless
``--no-autoconnect``. It runs at the server's rate and period.

The separator's latency is published on the ports with JACK's latency API (an
input's playback latency and an output's capture latency grow by
``latency_samples``), so hosts that compensate latency (Ardour, Carla, ...) align
its output. JACK-Client does not wrap that API, so it is declared here with cffi (which
JACK-Client itself uses) against the same libjack.

The process callback copies the input ports into preallocated ``[C, period]`` buffers,
runs :meth:`LiveAudio.process` (the one owner of the per-block work, shared with the
PortAudio path) and copies the result to the output ports. It never raises: JACK-Client
would stop calling it; an error is counted and the outputs are silenced.

``jack`` (JACK-Client, which loads libjack) is imported only when a JACK stream is
prepared, so users of other audio APIs need no JACK library.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable

import numpy as np

from fewshot_sep.plugin_host.live.audio import LiveAudio
from fewshot_sep.plugin_host.plugin.separator import MAX_ENGINE_BLOCK
from fewshot_sep.utils.errors import UserError

DEFAULT_CLIENT_NAME = "fewshot-sep"
#: jack_client_name_size() is 64 with the terminating NUL.
MAX_CLIENT_NAME = 63

_LATENCY_CDEF = """
typedef struct _jack_port jack_port_t;
typedef struct _jack_client jack_client_t;
typedef uint32_t jack_nframes_t;
typedef enum { JackCaptureLatency, JackPlaybackLatency } jack_latency_callback_mode_t;
typedef struct { jack_nframes_t min; jack_nframes_t max; } jack_latency_range_t;
typedef void (*JackLatencyCallback)(jack_latency_callback_mode_t mode, void *arg);
int jack_set_latency_callback(jack_client_t *client, JackLatencyCallback latency_callback, void *arg);
void jack_port_get_latency_range(jack_port_t *port, jack_latency_callback_mode_t mode, jack_latency_range_t *range);
void jack_port_set_latency_range(jack_port_t *port, jack_latency_callback_mode_t mode, jack_latency_range_t *range);
"""


def port_names(channels: int) -> tuple[list[str], list[str]]:
    """``(input names, output names)``: ``in_L, in_R`` / ``out_L, out_R`` for stereo."""
    if channels == 1:
        return ["in"], ["out"]
    if channels == 2:
        return ["in_L", "in_R"], ["out_L", "out_R"]
    return [f"in_{c + 1}" for c in range(channels)], [f"out_{c + 1}" for c in range(channels)]


def check_client_name(name: str) -> str:
    """Return `name` if JACK can use it as a client name, else UserError."""
    if not name or ":" in name or len(name) > MAX_CLIENT_NAME or not name.isprintable():
        raise UserError(
            f"--client-name {name!r} is invalid: use 1..{MAX_CLIENT_NAME} printable characters without ':' "
            f"(JACK names ports CLIENT:PORT), e.g. --client-name {DEFAULT_CLIENT_NAME}"
        )
    return name


def import_jack() -> Any:
    """The ``jack`` module (JACK-Client), or UserError saying what to install."""
    try:
        import jack
    except ImportError as err:
        raise UserError(f"live --jack needs the JACK-Client package ({err}): pip install JACK-Client, "
                        "or leave out --jack to use PortAudio") from None
    except OSError as err:  # JACK-Client found no libjack
        raise UserError(f"live --jack needs the JACK library ({err}): install JACK (Debian: apt install jackd2; "
                        "macOS: brew install jack), or leave out --jack to use PortAudio") from None
    return jack


class LatencyAPI:
    """JACK's port latency API through cffi, on the libjack JACK-Client loaded."""

    def __init__(self, jack: Any) -> None:
        from cffi import FFI

        self._jack = jack
        self.ffi = FFI()
        self.ffi.cdef(_LATENCY_CDEF)
        libname = getattr(jack, "_libname", None)
        if libname is None:
            import ctypes.util

            libname = ctypes.util.find_library("jack")
        self.lib = self.ffi.dlopen(libname)
        self._range = self.ffi.new("jack_latency_range_t *")  # the latency callback's (one thread)
        self._callback: Any = None  # kept alive while the client lives

    def _pointer(self, ctype: str, obj: Any) -> Any:
        """JACK-Client's own pointer (``_ptr``) as this FFI's type."""
        return self.ffi.cast(ctype, int(self._jack._ffi.cast("uintptr_t", obj._ptr)))

    def get(self, port: Any, capture: bool) -> tuple[int, int]:
        """``(min, max)`` capture (or playback) latency of `port`, frames."""
        span = self.ffi.new("jack_latency_range_t *")
        mode = self.lib.JackCaptureLatency if capture else self.lib.JackPlaybackLatency
        self.lib.jack_port_get_latency_range(self._pointer("jack_port_t *", port), mode, span)
        return int(span.min), int(span.max)

    def publish(self, client: Any, inports: list, outports: list, latency: int) -> None:
        """Register the callback that adds `latency` frames between each input and its output.

        JACK calls it (before activation is complete and on every graph change) once for
        capture latencies (upstream of each input, carried to its output) and once for
        playback latencies (downstream of each output, carried to its input).
        """
        lib, span = self.lib, self._range
        pairs = [(self._pointer("jack_port_t *", i), self._pointer("jack_port_t *", o))
                 for i, o in zip(inports, outports)]

        def on_latency(mode: int, _arg: Any) -> None:
            try:
                for port_in, port_out in pairs:
                    source, target = (port_in, port_out) if mode == lib.JackCaptureLatency else (port_out, port_in)
                    lib.jack_port_get_latency_range(source, mode, span)
                    span.min += latency
                    span.max += latency
                    lib.jack_port_set_latency_range(target, mode, span)
            except Exception:  # a notification thread: nothing may escape into libjack
                pass

        self._callback = self.ffi.callback("JackLatencyCallback", on_latency)
        if lib.jack_set_latency_callback(self._pointer("jack_client_t *", client), self._callback, self.ffi.NULL):
            raise UserError("the JACK server refused the latency callback: restart live")


class JackStream:
    """A native JACK client for the live host.

    Args:
        client_name: the client's name in JACK (must be free: a taken name is refused).
        channels: ports each way.
        autoconnect: connect the ports to the physical capture and playback ports.
        samplerate, blocksize: what the user asked for (None = the server's); a value the
            server does not run at is refused naming the server's.
        log: where notes go (connections, latency not published).
    """

    kind = "jack"

    def __init__(self, client_name: str = DEFAULT_CLIENT_NAME, channels: int = 2, autoconnect: bool = True,
                 samplerate: int | None = None, blocksize: int | None = None,
                 log: Callable[[str], None] = lambda text: None) -> None:
        self.client_name = check_client_name(client_name)
        self.channels = channels
        self.autoconnect = autoconnect
        self.requested_samplerate = samplerate
        self.requested_blocksize = blocksize
        self.log = log
        self.client: Any = None
        self.inports: list = []
        self.outports: list = []
        self.latency_api: LatencyAPI | None = None
        self.blocksize = 0
        self._server_gone = False  # the server shut down: nothing left to deactivate
        self._scratch: tuple[np.ndarray, np.ndarray] | None = None
        self._last_device_latency = 0.0

    @property
    def server_name(self) -> str:
        return os.environ.get("JACK_DEFAULT_SERVER") or "default"

    # ------------------------------------------------------------------ set-up
    def prepare(self) -> tuple[int, int]:
        """Open the client; ``(server rate, server period)``, checked against what was asked for."""
        jack = import_jack()
        self._server_gone, self.inports, self.outports = False, [], []
        jack.set_error_function(lambda message: None)  # libjack's own lines; the UserError says it all
        try:
            # Not use_exact_name: jackd2 then answers a taken name with a bare "server error";
            # a renamed client says clearly that the name is taken.
            self.client = jack.Client(self.client_name, no_start_server=True)
        except jack.JackOpenError as err:
            raise UserError(self._open_error(err)) from None
        finally:
            jack.set_error_function(None)  # libjack's default: stderr
        if self.client.name != self.client_name:
            self.stop()
            raise UserError(f"a JACK client named {self.client_name!r} is already running on the server "
                            f"{self.server_name!r}: pick another name with --client-name")
        rate, period = int(self.client.samplerate), int(self.client.blocksize)
        server = f"the JACK server {self.server_name!r} runs at {rate} Hz with {period}-frame periods"
        if self.requested_samplerate is not None and self.requested_samplerate != rate:
            self.stop()
            raise UserError(f"--samplerate {self.requested_samplerate}: {server}; leave out --samplerate "
                            f"(live --jack follows the server) or restart the server at that rate (jackd ... -r "
                            f"{self.requested_samplerate})")
        if self.requested_blocksize is not None and self.requested_blocksize != period:
            self.stop()
            raise UserError(f"--blocksize {self.requested_blocksize}: {server}; leave out --blocksize (live --jack "
                            f"follows the server) or change the server's period (jack_bufsize "
                            f"{self.requested_blocksize})")
        if period > MAX_ENGINE_BLOCK:
            self.stop()
            raise UserError(f"{server}: the separator takes at most {MAX_ENGINE_BLOCK} frames per block; "
                            f"use a period of {MAX_ENGINE_BLOCK} or less (jack_bufsize {MAX_ENGINE_BLOCK})")
        self.blocksize = period
        return rate, period

    def _open_error(self, err: Any) -> str:
        return (f"cannot connect to the JACK server {self.server_name!r} ({err.status}): start it first (jackd, "
                "QjackCtl, Carla or your session manager; JACK_DEFAULT_SERVER picks a named server), "
                "or leave out --jack to use PortAudio")

    def rate_refused(self, rate: int, err: UserError) -> str:
        """The message when the engine cannot run at the server's rate."""
        return (f"the JACK server {self.server_name!r} runs at {rate} Hz, which the separator cannot run at live "
                f"({err}); restart the server at one of those rates, e.g. jackd -d alsa -r 48000")

    def start(self, audio: LiveAudio, sample_rate: int, on_failure: Callable[[str], None]) -> None:
        """Register the ports and callbacks, publish the latency, activate and connect."""
        jack = import_jack()
        client = self.client
        self.audio, self._on_failure = audio, on_failure
        inputs, outputs = port_names(self.channels)
        try:
            self.inports = [client.inports.register(name) for name in inputs]
            self.outports = [client.outports.register(name) for name in outputs]
        except jack.JackError as err:
            raise UserError(f"cannot register the JACK ports {inputs + outputs}: {err}") from None
        self._allocate(self.blocksize)
        client.set_process_callback(self._process)
        client.set_xrun_callback(self._xrun)
        client.set_shutdown_callback(self._shutdown)
        client.set_blocksize_callback(self._blocksize_changed)
        client.set_samplerate_callback(self._samplerate_changed)
        self._publish_latency(jack, int(audio.engine.latency_samples))
        try:
            client.activate()
        except jack.JackError as err:
            raise UserError(f"cannot activate the JACK client {client.name!r}: {err}") from None
        if self.autoconnect:
            self._connect_physical()

    def _publish_latency(self, jack: Any, latency: int) -> None:
        try:
            self.latency_api = LatencyAPI(jack)
            self.latency_api.publish(self.client, self.inports, self.outports, latency)
        except (AttributeError, OSError, ImportError) as err:  # an unexpected JACK-Client or libjack
            self.latency_api = None
            self.log(f"note: the separator's latency ({latency} frames) is not published to JACK ({err}); "
                     "hosts will not compensate it")

    def _connect_physical(self) -> None:
        client = self.client
        captures = client.get_ports(is_audio=True, is_output=True, is_physical=True)
        playbacks = client.get_ports(is_audio=True, is_input=True, is_physical=True)
        pairs = list(zip(captures, self.inports))
        if len(self.outports) == 1:  # mono: the output to both speakers
            pairs += [(self.outports[0], p) for p in playbacks[:2]]
        else:
            pairs += list(zip(self.outports, playbacks))
        for source, target in pairs:
            with contextlib.suppress(Exception):
                client.connect(source, target)
        if not pairs:
            self.log("note: the JACK server has no physical ports: connect the client's ports with a patchbay")

    def _allocate(self, frames: int) -> None:
        # Both buffers swap in one assignment, so the process thread sees a consistent pair.
        self._scratch = (np.zeros((self.channels, frames), np.float32), np.zeros((self.channels, frames), np.float32))

    # ------------------------------------------------------------------ callbacks
    def _process(self, frames: int) -> None:
        """JACK's process callback (real-time thread): never raises."""
        audio = self.audio
        try:
            scratch_in, scratch_out = self._scratch
            block_in, block_out = scratch_in[:, :frames], scratch_out[:, :frames]
            if block_in.shape[1] != frames:
                raise RuntimeError(f"a period of {frames} frames is longer than the buffers ({scratch_in.shape[1]})")
            for row, port in zip(block_in, self.inports):
                np.copyto(row, port.get_array())
            audio.process(block_in, block_out, frames)
            for row, port in zip(block_out, self.outports):
                np.copyto(port.get_array(), row)
        except Exception as err:
            audio.note_error(err)
            for port in self.outports:
                with contextlib.suppress(Exception):
                    port.get_array().fill(0)

    def _xrun(self, _delayed_usecs: float) -> None:
        with contextlib.suppress(Exception):
            self.audio.note_server_xrun()

    def _blocksize_changed(self, frames: int) -> None:
        with contextlib.suppress(Exception):
            if frames > MAX_ENGINE_BLOCK:
                self._fail(f"the JACK server's period changed to {frames} frames; the separator takes at most "
                           f"{MAX_ENGINE_BLOCK}")
            elif self._scratch is None or frames > self._scratch[0].shape[1]:
                self._allocate(frames)
            self.blocksize = frames

    def _samplerate_changed(self, rate: int) -> None:
        with contextlib.suppress(Exception):
            if self.audio.sample_rate and rate != self.audio.sample_rate:
                self._fail(f"the JACK server changed its rate to {rate} Hz while live ran at "
                           f"{self.audio.sample_rate} Hz: start live again")

    def _shutdown(self, _status: Any, reason: str) -> None:
        self._server_gone = True
        with contextlib.suppress(Exception):
            self._fail(f"the JACK server shut down ({reason})")

    def _fail(self, text: str) -> None:
        self._on_failure(text)

    # ------------------------------------------------------------------ state
    def stop(self) -> None:
        """Deactivate and close the client (never raises)."""
        if self.client is None:
            return
        self._last_device_latency = self.device_latency_s
        if not self._server_gone:
            with contextlib.suppress(Exception):
                self.client.deactivate()
        with contextlib.suppress(Exception):
            self.client.close()
        self.client = None

    @property
    def running(self) -> bool:
        return self.client is not None

    @property
    def device_latency_s(self) -> float:
        """Capture latency upstream of the inputs + playback latency downstream of the outputs, seconds."""
        if self.client is None or self.latency_api is None or not self.inports:
            return self._last_device_latency
        try:
            # An input's capture latency is what lies upstream of it, an output's playback latency
            # what lies downstream (ours is on the other two ranges).
            capture = max(self.latency_api.get(p, capture=True)[1] for p in self.inports)
            playback = max(self.latency_api.get(p, capture=False)[1] for p in self.outports)
            self._last_device_latency = (capture + playback) / self.audio.sample_rate
        except Exception:
            pass
        return self._last_device_latency

    def describe(self) -> str:
        name = self.client.name if self.client is not None else self.client_name
        ports = ", ".join(p.shortname for p in self.inports + self.outports)
        return f"JACK client {name!r} on server {self.server_name!r} (ports {ports})"
