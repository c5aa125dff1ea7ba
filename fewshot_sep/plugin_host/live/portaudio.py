"""The live host's PortAudio path: a duplex ``sounddevice.Stream`` on any host API.

ALSA, PulseAudio, CoreAudio, WASAPI, ASIO, and JACK through PortAudio (whose client
is called "PortAudio"; ``live --jack`` is the native JACK client, see `jack`).
The stream's callback is :meth:`LiveAudio.portaudio_callback`: the audio work itself
has one owner, `audio`.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable

from fewshot_sep.plugin_host.live.audio import LiveAudio
from fewshot_sep.utils.errors import UserError

#: Frames per callback when none is asked for.
DEFAULT_BLOCKSIZE = 256


def parse_device(value: str | int | None) -> int | str | None:
    """A device given on the command line: an index (``3``) or a name substring (``"Scarlett"``)."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return text or None


def check_samplerate(value: float | None) -> int | None:
    """A requested rate as whole Hz (None = the device's or server's own), else UserError."""
    if value is None:
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise UserError(f"sample rate {value!r} is invalid: give Hz, e.g. 48000")
    return int(round(rate))


def reinitialize_portaudio() -> None:
    """Re-scan audio host APIs (PortAudio only sees a JACK server running at initialisation)."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


class PortAudioStream:
    """A duplex PortAudio stream for the live host.

    Args:
        input_device, output_device: device index or name substring (None = default).
        samplerate: Hz (None = the output device's default rate).
        blocksize: frames per callback (None = 256; 0 = the device's choice).
        channels: channels in and out.
        latency: PortAudio's latency hint ("low", "high" or seconds).
    """

    kind = "portaudio"

    def __init__(self, input_device: int | str | None, output_device: int | str | None, samplerate: int | None,
                 blocksize: int | None, channels: int, latency: str | float = "low") -> None:
        self.input_device = parse_device(input_device)
        self.output_device = parse_device(output_device)
        self.requested_samplerate = samplerate
        self.blocksize = DEFAULT_BLOCKSIZE if blocksize is None else int(blocksize)
        self.channels = channels
        self.latency_hint = latency
        self.stream: Any = None
        self._last_device_latency = 0.0

    def prepare(self) -> tuple[int, int]:
        """``(sample rate, block size)`` the stream will run at (0 = variable block)."""
        if self.requested_samplerate is not None:
            return self.requested_samplerate, self.blocksize
        return self._device_rate(self.output_device, "output"), self.blocksize

    @staticmethod
    def _device_rate(device: int | str | None, kind: str) -> int:
        import sounddevice as sd

        try:
            info = sd.query_devices(device, kind)
        except (ValueError, sd.PortAudioError) as err:
            raise UserError(f"{kind} device {device!r}: {err}; list devices with `fewshot-sep devices`") from err
        return int(round(info["default_samplerate"]))

    def _rate_advice(self, rate: int) -> str:
        """'; the output device runs at 48000 Hz ...' when a device's own rate is not `rate` (else '')."""
        others: list[tuple[str, int]] = []
        for device, kind in ((self.input_device, "input"), (self.output_device, "output")):
            with contextlib.suppress(UserError):
                own = self._device_rate(device, kind)
                if own != rate:
                    others.append((kind, own))
        if not others:
            return ""
        said = " and ".join(f"the {kind} device runs at {own} Hz" for kind, own in others)
        return f"; {said} (a JACK server runs at one rate): use --samplerate {others[-1][1]} or leave it out"

    def rate_refused(self, rate: int, err: UserError) -> str:
        """The message when the engine cannot run at `rate` (the device's own, or --samplerate)."""
        source = "--samplerate" if self.requested_samplerate is not None else "the output device's default rate"
        return f"{source} is {rate} Hz, which the separator cannot run at live ({err}); pass --samplerate 48000"

    def start(self, audio: LiveAudio, sample_rate: int, on_failure: Callable[[str], None]) -> None:
        """Open and start the stream; its callback feeds `audio`. Raises UserError with a hint."""
        import sounddevice as sd

        try:
            self.stream = sd.Stream(
                samplerate=sample_rate,
                blocksize=self.blocksize,
                device=(self.input_device, self.output_device),
                channels=self.channels,
                dtype="float32",
                latency=self.latency_hint,
                callback=audio.portaudio_callback,
            )
        except (ValueError, sd.PortAudioError) as err:
            raise UserError(
                f"cannot open audio devices (input {self.input_device!r}, output {self.output_device!r}) at "
                f"{sample_rate} Hz, {self.channels} channel(s), block {self.blocksize}: {err}"
                f"{self._rate_advice(sample_rate)}; list devices with `fewshot-sep devices` and pick them with "
                "--input/--output, or change --samplerate/--channels"
            ) from err
        try:
            self.stream.start()
        except Exception as err:  # sounddevice.PortAudioError and friends
            self.stop()
            raise UserError(
                f"cannot start the audio stream at {sample_rate} Hz, block {self.blocksize}: {err}; "
                "check the devices with `fewshot-sep devices`"
            ) from err

    def stop(self) -> None:
        """Stop and close the stream (never raises)."""
        self._last_device_latency = self.device_latency_s
        if self.stream is not None:
            with contextlib.suppress(Exception):
                self.stream.stop()
            with contextlib.suppress(Exception):
                self.stream.close()
        self.stream = None

    @property
    def running(self) -> bool:
        return self.stream is not None

    @property
    def device_latency_s(self) -> float:
        """Input + output latency as PortAudio reports it for the open stream."""
        if self.stream is None:
            return self._last_device_latency
        latency = self.stream.latency
        total = float(sum(latency)) if isinstance(latency, (tuple, list)) else float(latency)
        self._last_device_latency = total
        return total

    def describe(self) -> str:
        return f"PortAudio devices (input {self.input_device!r}, output {self.output_device!r})"
