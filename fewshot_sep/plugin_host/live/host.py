"""`LiveHost`: run the separator live, through PortAudio or as a native JACK client.

The live host is four parts, each with one job:

- `audio.LiveAudio`: the audio callback (engine call, counters, meters); it never
  raises, never blocks and allocates no audio buffers;
- `portaudio.PortAudioStream` / `jack.JackStream`: the stream that calls it
  (a sounddevice duplex stream on any host API, or a JACK client with named ports and
  its latency published);
- `console.LiveConsole`: status line, meters, preset list and keys, in the main
  thread;
- :class:`LiveHost` (here): the presets and parameters (click-free: a preset change is a
  crossfade of conditioning vectors; bypass is ``mix = 0``, so the latency does not
  jump), and starting and stopping the whole.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from typing import IO, Any, Sequence, Union

import numpy as np

from fewshot_sep.plugin_host.live.audio import NONFINITE_ERROR, LiveAudio, LiveSummary
from fewshot_sep.plugin_host.live.console import KEY_HELP, MIX_STEP, LiveConsole, stdin_is_tty
from fewshot_sep.plugin_host.live.jack import DEFAULT_CLIENT_NAME, JackStream
from fewshot_sep.plugin_host.live.portaudio import (DEFAULT_BLOCKSIZE, PortAudioStream, check_samplerate,
                                                    parse_device, reinitialize_portaudio)
from fewshot_sep.plugin_host.plugin.separator import (
    MAX_ENGINE_BLOCK,
    FewShotSeparator,
    PresetRef,
    check_mix,
    check_mode,
    resolve_preset_ref,
)
from fewshot_sep.realtime.model_files import ModelFiles
from fewshot_sep.utils.errors import UserError

__all__ = ["LiveHost", "LiveSummary", "parse_device", "reinitialize_portaudio", "KEY_HELP", "MIX_STEP",
           "NONFINITE_ERROR", "BACKENDS"]

PresetOrVector = Union[PresetRef, np.ndarray]
BACKENDS = ("portaudio", "jack")
#: GIL switch interval while streaming (see LiveHost.start).
LIVE_SWITCH_INTERVAL_S = 0.0005
#: Below this many frames per callback the fixed cost of a Python callback (tens of
#: microseconds) and of the separator call is a large share of the block period: at
#: 1 frame / 48 kHz the load measured 144 %. Smaller blocks are allowed, with a warning.
MIN_RECOMMENDED_BLOCK = 64


class LiveHost:
    """Duplex live separation on an audio interface or as a JACK client.

    Args:
        presets: presets to switch between (``builtin:NAME``, library names, paths,
            ``Preset`` objects, or raw conditioning vectors ``[D]``); the first is active.
        model: model folder or ModelFiles (None = packaged model / $FEWSHOT_SEP_MODEL).
        input_device, output_device: PortAudio device index or name substring
            (None = the system default; not with ``backend="jack"``).
        samplerate: Hz; None = the device's default rate (PortAudio) or the server's (JACK).
        blocksize: frames per callback (1..8192; 0 = whatever the device prefers); None =
            256 with PortAudio, the server's period with JACK.
        channels: channels in and out.
        mode, mix: initial mode and mix (default: the first preset's defaults).
        latency: PortAudio latency hint ("low", "high" or seconds).
        out: where the status line and summary go (default stderr).
        backend: "portaudio" (any host API) or "jack" (a native JACK client).
        client_name, autoconnect: the JACK client's name (None = "fewshot-sep"), and whether
            its ports are connected to the physical ports (``backend="jack"`` only).
    """

    def __init__(
        self,
        presets: Sequence[PresetOrVector],
        *,
        model: Any = None,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        samplerate: float | None = None,
        blocksize: int | None = None,
        channels: int = 2,
        mode: str | None = None,
        mix: float | None = None,
        latency: str | float = "low",
        out: IO[str] | None = None,
        backend: str = "portaudio",
        client_name: str | None = None,
        autoconnect: bool = True,
    ) -> None:
        if not presets:
            raise UserError("give at least one preset (--preset builtin:NAME, a library name or a .json file)")
        if blocksize is not None and not 0 <= int(blocksize) <= MAX_ENGINE_BLOCK:
            raise UserError(f"block size {blocksize} is invalid: use 1..{MAX_ENGINE_BLOCK} (or 0 = device default)")
        if not 1 <= int(channels) <= 32:
            raise UserError(f"channel count {channels} is invalid: use 1..32 (--channels)")
        if backend not in BACKENDS:
            raise UserError(f"backend {backend!r} is invalid: use 'portaudio' or 'jack' (live --jack)")
        self.out = out if out is not None else sys.stderr
        self.channels = int(channels)
        rate = check_samplerate(samplerate)
        if backend == "jack":
            if input_device is not None or output_device is not None:
                raise UserError("--input/--output pick PortAudio devices; with --jack, connect the client's ports "
                                "with your patchbay (or let --jack connect them to the system ports)")
            name = DEFAULT_CLIENT_NAME if client_name is None else client_name
            self.stream: Any = JackStream(name, self.channels, autoconnect, rate, blocksize, self._note)
        else:
            self.stream = PortAudioStream(input_device, output_device, rate, blocksize, self.channels, latency)
        self.model = ModelFiles.load(model)
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
        self.blocksize = DEFAULT_BLOCKSIZE if blocksize is None else int(blocksize)
        if blocksize is not None:
            self._warn_small_block(self.blocksize)
        self.audio = LiveAudio()
        self.console = LiveConsole(self, self.out)
        self._stop_event = threading.Event()
        self._notes: list[str] = []
        self._started_at: float | None = None
        self._gc_frozen = False
        self._saved_switch_interval: float | None = None

    def _note(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _warn_small_block(self, blocksize: int) -> None:
        if 0 < blocksize < MIN_RECOMMENDED_BLOCK:
            self._note(
                f"warning: block size {blocksize} is very small: the callback's fixed cost is a large share "
                f"of each block, so expect a load over 100 % and xruns; use {MIN_RECOMMENDED_BLOCK} or more "
                f"(--blocksize {DEFAULT_BLOCKSIZE} is the default; with --jack: the server's period)"
            )

    # ------------------------------------------------------------------ presets
    def preset_label(self, index: int | None = None) -> str:
        """The name of preset `index` (default: the current one); "vector N" for a raw vector."""
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

    # --------------------------------------------------------------- parameters
    def handle_key(self, key: str) -> bool:
        """Apply one key command (see `console`); returns False when the key asks to quit."""
        return self.console.handle_key(key)

    def set_mix(self, value: float) -> None:
        """Set the wet/dry mix (clamped to 0..1); it applies when not bypassed."""
        self.mix = round(min(1.0, max(0.0, float(value))), 3)
        if not self.bypass:
            self.separator.mix = self.mix

    def set_bypass(self, on: bool) -> None:
        """Bypass = dry signal, latency-aligned (the engine keeps running, so no click or jump)."""
        self.bypass = bool(on)
        self.separator.mix = 0.0 if self.bypass else self.mix

    def status_text(self, width: int | None = None) -> str:
        """The one-line status shown while running, fitted to `width` columns if given (see `LiveConsole`)."""
        return self.console.status_text(width)

    # ------------------------------------------------------------ audio state
    @property
    def engine(self) -> Any:
        """The running engine (set by :meth:`start`)."""
        return self.audio.engine

    @engine.setter
    def engine(self, engine: Any) -> None:
        self.audio.engine = engine

    @property
    def sample_rate(self) -> int:
        """The stream's rate in Hz (0 before :meth:`start`)."""
        return self.audio.sample_rate

    @sample_rate.setter
    def sample_rate(self, rate: int) -> None:
        self.audio.sample_rate = rate

    def reset_counters(self) -> None:
        """Zero the callback's counters (e.g. once a JACK graph has settled)."""
        self.audio.reset_counters()

    @property
    def running(self) -> bool:
        return self.stream.running

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency of the running engine, in samples at the stream's rate."""
        return int(self.engine.latency_samples) if self.engine is not None else 0

    @property
    def algorithmic_latency_s(self) -> float:
        return self.latency_samples / self.sample_rate if self.sample_rate else 0.0

    @property
    def device_latency_s(self) -> float:
        """Latency of the audio path around the separator (PortAudio's report, or JACK's port latencies)."""
        return self.stream.device_latency_s

    # ------------------------------------------------------------------- stream
    def start(self) -> None:
        """Open and start the stream (raises UserError with a hint on device or server problems)."""
        from fewshot_sep.realtime.engine import check_host_rate

        rate, blocksize = self.stream.prepare()
        try:
            try:
                check_host_rate(rate, self.model.sample_rate)
            except UserError as err:
                raise UserError(self.stream.rate_refused(rate, err)) from None
            engine = self.separator.engine_for(rate, self.channels)
            if self.stream.kind == "jack" and blocksize != self.blocksize:
                self.blocksize = blocksize
                self._warn_small_block(blocksize)
            self.audio.engine, self.audio.sample_rate = engine, rate
            engine.reset()
            # Warm up the engine (first ONNX runs allocate) before real time starts, a preset
            # crossfade's one-frame calls included (else the first switch allocates in the callback).
            silence = np.zeros((self.channels, max(1, self.blocksize or DEFAULT_BLOCKSIZE)), dtype=np.float32)
            for _ in range(8):
                engine.process_block(silence)
            engine.warm_up(silence.shape[1])
            engine.reset()
            self.audio.reset_counters()
            self._notes = []
            self._started_at = time.monotonic()
            self._realtime_settings(True)
            self.stream.start(self.audio, rate, self._stream_failed)
        except BaseException:
            self.stop()
            raise

    def _stream_failed(self, reason: str) -> None:
        """The stream ended on its own (e.g. the JACK server shut down): stop the run, say why."""
        self._notes.append(reason)
        self._stop_event.set()

    def _realtime_settings(self, on: bool) -> None:
        """While streaming: a short GIL switch interval and a frozen garbage collector."""
        if on:
            # The callback runs Python in the audio thread and must win the GIL back quickly
            # (onnxruntime releases it while the graph runs); the default 5 ms switch
            # interval is a whole 256-frame period at 48 kHz.
            self._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved_switch_interval, LIVE_SWITCH_INTERVAL_S))
            # A full collection walks every Python object (tens of ms in a big process); if it
            # starts inside the callback, that block is late. Freezing the objects that exist
            # now makes later collections cheap.
            gc.collect()
            gc.freeze()
            self._gc_frozen = True
            return
        if self._gc_frozen:
            gc.unfreeze()
            self._gc_frozen = False
        if self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None

    def stop(self) -> LiveSummary:
        """Stop and close the stream; return the run's summary."""
        seconds = time.monotonic() - self._started_at if self._started_at is not None else 0.0
        self.stream.stop()
        self._realtime_settings(False)
        # The stream's block size: a JACK server may have changed its period while running.
        return self.audio.summary(seconds, self.device_latency_s, self.stream.blocksize, self.channels,
                                  self.stream.kind, self._notes)

    def request_stop(self) -> None:
        """Ask :meth:`run` to return (thread-safe)."""
        self._stop_event.set()

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
            status_interval: seconds between status lines (default: 0.5 on a terminal,
                where the line is redrawn in place; 5 otherwise, one plain line each).

        Returns:
            The LiveSummary (also printed).
        """
        if interactive is None:
            interactive = stdin_is_tty()
        self._stop_event.clear()
        return self.console.run(duration, interactive, status_interval, self._stop_event)
