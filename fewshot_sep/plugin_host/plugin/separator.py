"""`FewShotSeparator`: the few-shot separator as a pedalboard-style plugin object.

``process(input_array, sample_rate, buffer_size=8192, reset=True)`` follows
pedalboard's contract:

- layout: 1-D input is mono; 2-D input has its channels on the smaller dimension
  (``[channels, samples]`` or ``[samples, channels]``); the output comes back in the
  same layout. A square array reuses the layout of the previous call (error if none).
- dtype: float64 input is converted to float32; signed integer input (int8/16/32/64, as
  read from PCM) is scaled like audio, by 2**(bits-1) (int16 32767 -> ~1.0); unsigned,
  bool and complex input is refused. The output is float32.
- ``reset=True`` (default): a fresh stream; the input is run through it followed by
  ``latency_samples`` zeros, and the first ``latency_samples`` output samples are
  dropped. The output has the input's length and is time-aligned with it (like
  pedalboard's own latency compensation); the processing tail beyond the input's end
  is dropped.
- ``reset=False``: streaming. The stream keeps its state between calls and each call
  returns as many samples as it was given, delayed by ``latency_samples`` (the first
  ``latency_samples`` samples of a stream are the start-up silence). *Difference from
  pedalboard:* pedalboard's latent plugins return *fewer* samples at the start of a
  stream; we return exactly ``n`` samples per call, as a real-time host would.
- ``buffer_size``: pedalboard's largest block per plugin call (>= 1), accepted for its
  contract; the audio runs through the engine's offline path
  (``fewshot_sep.realtime.offline``), which sizes its own separator calls, and the
  output does not depend on it.

One streaming engine (``fewshot_sep.realtime.engine.StreamingSeparator``) is kept
per (sample rate, channel count); a call with another rate or channel count
rebuilds it (and so restarts a stream). ``process`` streams through the engine's
offline path; the live host streams the same engine block by block (``process_block``).
"""

from __future__ import annotations

import math
import os
import threading
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from fewshot_sep.contract import controls
from fewshot_sep.plugin_host.plugin.layout import LayoutTracker, from_channels_first
from fewshot_sep.plugin_host.plugin.pedalboard_names import PEDALBOARD_HINT, PedalboardNames
from fewshot_sep.realtime.alignment import run_aligned
from fewshot_sep.realtime.conditioning import check_conditioning_range
from fewshot_sep.realtime.model_files import ModelFiles
from fewshot_sep.utils.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from fewshot_sep.presets import Preset
    from fewshot_sep.realtime.engine import StreamingSeparator
    from fewshot_sep.realtime.multichannel import MultiChannelEngine
    from fewshot_sep.realtime.offline import OfflineStream

#: Largest block the streaming engine accepts in one `process_block` call (the live hosts' limit).
MAX_ENGINE_BLOCK = 8192

PresetRef = Union[str, os.PathLike, "Preset"]

class InvalidParameter(UserError, ValueError):
    """A plugin parameter got a value outside its range (a UserError *and* a ValueError)."""


def check_mode(mode: str) -> str:
    """:func:`fewshot_sep.contract.check_mode`, raising InvalidParameter."""
    return controls.check_mode(mode, InvalidParameter)


def check_mix(mix: float) -> float:
    """:func:`fewshot_sep.contract.check_mix` (a float in [0, 1]), raising InvalidParameter."""
    return controls.check_mix(mix, InvalidParameter)


def check_sample_rate(sample_rate: float) -> int:
    """Return `sample_rate` as a positive integer number of Hz, else raise InvalidParameter."""
    try:
        value = float(sample_rate)
    except (TypeError, ValueError):
        raise InvalidParameter(f"sample rate {sample_rate!r} is invalid: give a rate in Hz, e.g. 44100") from None
    if not (math.isfinite(value) and value > 0) or abs(value - round(value)) > 1e-6:
        raise InvalidParameter(
            f"sample rate {sample_rate!r} is invalid: give a positive whole number of Hz, e.g. 44100"
        )
    return int(round(value))


def resolve_preset_ref(ref: PresetRef, model: "ModelFiles") -> "Preset":
    """Resolve a preset reference (Preset, ``builtin:NAME``, library name or JSON path).

    A Preset object made with another model is refused with a UserError.
    """
    from fewshot_sep.presets import Preset, check_model, resolve_preset

    if isinstance(ref, Preset):
        check_model(ref, model)
        return ref
    return resolve_preset(ref, model)


class FewShotSeparator(PedalboardNames):
    """Isolate or remove one instrument (given by a preset) from audio, pedalboard-style.

    Args:
        preset: a ``Preset``, ``"builtin:NAME"``, a preset name in the user library or a
            path to a preset JSON file. May be left out when `conditioning` is given.
        mode: ``"isolate"`` (keep the instrument) or ``"remove"`` (keep everything else);
            default: the preset's default mode, else "isolate".
        mix: wet/dry from 0 (input only, latency-aligned) to 1 (fully separated);
            default: the preset's default mix, else 1.0.
        conditioning: a raw conditioning vector ``[D]`` float32 used instead of a preset
            (advanced; tests use it with model doubles).
        model: the model folder (ModelFiles or path); None = the packaged model.

    Parameters ``preset``, ``mode`` and ``mix`` can be changed at any time, also while
    streaming; a preset change is crossfaded by the engine. pedalboard's names
    ``reported_latency_samples``, ``is_effect`` and ``is_instrument`` work too; a native
    ``pedalboard.Pedalboard`` cannot hold it: use :class:`~fewshot_sep.plugin_host.Chain`.
    """

    def __init__(
        self,
        preset: PresetRef | None = None,
        mode: str | None = None,
        mix: float | None = None,
        *,
        conditioning: np.ndarray | None = None,
        model: "ModelFiles | str | os.PathLike | None" = None,
    ) -> None:
        self._model = ModelFiles.load(model)
        self._lock = threading.RLock()
        self._engine: StreamingSeparator | None = None
        self._engine_key: tuple[int, int] | None = None
        self._stream: OfflineStream | None = None  # the engine's offline stream that process() continues
        self._layout = LayoutTracker()
        self._latency_cache: dict[int, int] = {}
        self._preset: Preset | None = None
        self._preset_ref: str | None = None
        self._conditioning: np.ndarray | None = None
        self._mode_explicit = mode is not None
        self._mix_explicit = mix is not None
        self._mode = check_mode(mode) if mode is not None else "isolate"
        self._mix = check_mix(mix) if mix is not None else 1.0
        self._threads = 1
        if preset is not None and conditioning is not None:
            raise InvalidParameter("give either a preset or a conditioning vector, not both")
        if preset is not None:
            self.preset = preset
        elif conditioning is not None:
            self.conditioning = conditioning

    # ----------------------------------------------------------------- parameters
    @property
    def model(self) -> "ModelFiles":
        """The model files this separator runs."""
        return self._model

    @property
    def preset(self) -> "Preset | None":
        """The current preset (None when a raw conditioning vector is used)."""
        return self._preset

    @preset.setter
    def preset(self, ref: PresetRef) -> None:
        preset = resolve_preset_ref(ref, self._model)
        with self._lock:
            self._preset = preset
            self._preset_ref = getattr(preset, "source", None) if hasattr(ref, "conditioning") else os.fspath(ref)
            if not self._mode_explicit:
                self._mode = check_mode(preset.default_mode)
            if not self._mix_explicit:
                self._mix = check_mix(preset.default_mix)
            self._set_conditioning_vector(preset.conditioning())
            self._push_mode_mix()

    @property
    def preset_ref(self) -> str | None:
        """How the preset was given (``builtin:NAME``, a library name or a path), for saving."""
        return self._preset_ref

    @property
    def conditioning(self) -> np.ndarray | None:
        """The conditioning vector ``[D]`` float32 in use (from the preset or set directly)."""
        return None if self._conditioning is None else self._conditioning.copy()

    @conditioning.setter
    def conditioning(self, vector: np.ndarray) -> None:
        with self._lock:
            self._set_conditioning_vector(vector)
            self._preset = None
            self._preset_ref = None

    @property
    def mode(self) -> str:
        """``"isolate"`` (keep the preset's instrument) or ``"remove"`` (keep the rest)."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        with self._lock:
            self._mode = check_mode(value)
            self._mode_explicit = True
            self._push_mode_mix()

    @property
    def mix(self) -> float:
        """Wet/dry balance, 0 (dry input, latency-aligned) .. 1 (fully separated)."""
        return self._mix

    @mix.setter
    def mix(self, value: float) -> None:
        with self._lock:
            self._mix = check_mix(value)
            self._mix_explicit = True
            self._push_mode_mix()

    @property
    def threads(self) -> int:
        """Threads of the separator (1, the live setting, by default).

        With 2 or more, ``process`` runs the channels of a stereo input in parallel (one
        single-threaded onnxruntime session each: the output does not change); a mono
        input gets that many onnxruntime intra-op threads, and so does the live host.
        Setting it rebuilds the engine on the next call (and so restarts a stream).
        """
        return self._threads

    @threads.setter
    def threads(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidParameter(f"threads {value!r} is invalid: give a whole number of threads, 1 or more")
        with self._lock:
            if int(value) != self._threads:
                self._threads = int(value)
                self._engine, self._engine_key, self._stream = None, None, None

    @property
    def name(self) -> str:
        """A short label: the preset's name, or "conditioning" for a raw vector."""
        return self._preset.name if self._preset is not None else "conditioning"

    @property
    def latency_samples(self) -> int:
        """Output delay in samples at the current engine's sample rate.

        Before the first ``process`` call it is the latency at the model's own rate
        (use :meth:`latency_at` for another rate).
        """
        if self._engine is not None:
            return int(self._engine.latency_samples)
        return int(self._model.latency_samples)

    def latency_at(self, sample_rate: float, num_channels: int = 2) -> int:
        """Latency in samples when processing at `sample_rate` (resampler delay included).

        Does not touch the current engine or stream (another rate is measured on a
        throw-away engine, once, and remembered).
        """
        from fewshot_sep.realtime.engine import StreamingSeparator

        rate = check_sample_rate(sample_rate)
        with self._lock:
            if self._engine is not None and self._engine_key is not None and self._engine_key[0] == rate:
                return int(self._engine.latency_samples)
            if rate not in self._latency_cache:
                probe = StreamingSeparator(model=self._model, sample_rate=rate, num_channels=1)
                self._latency_cache[rate] = int(probe.latency_samples)
            return self._latency_cache[rate]

    # -------------------------------------------------------------------- engine
    def _set_conditioning_vector(self, vector: np.ndarray) -> None:
        expected = int(self._model.conditioning_dim)
        try:
            vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError):
            raise InvalidParameter(
                f"conditioning {vector!r:.60} is not a vector of numbers: give {expected} float32 values, "
                "or use preset= instead"
            ) from None
        if vector.shape[0] != expected:
            raise InvalidParameter(
                f"conditioning vector has {vector.shape[0]} values but model "
                f"{self._model.model_id} expects {expected}: use a preset made with this model, or build the "
                "vector with fewshot_sep.realtime.conditioning.build_conditioning"
            )
        if not np.all(np.isfinite(vector)):
            raise InvalidParameter("conditioning vector contains NaN or Inf: use a preset, or rebuild the vector")
        try:
            check_conditioning_range(vector)
        except UserError as err:
            raise InvalidParameter(str(err)) from None
        self._conditioning = vector.copy()
        if self._engine is not None:
            self._engine.set_conditioning(self._conditioning)

    def _push_mode_mix(self) -> None:
        if self._engine is not None:
            self._engine.mode = self._mode
            self._engine.mix = self._mix

    def engine_for(self, sample_rate: float, num_channels: int) -> "StreamingSeparator | MultiChannelEngine":
        """Return the streaming engine for this rate and channel count (rebuilt if they changed)."""
        from fewshot_sep.realtime.multichannel import make_engine

        rate = check_sample_rate(sample_rate)
        key = (rate, int(num_channels))
        with self._lock:
            if self._engine is None or self._engine_key != key:
                if self._conditioning is None:
                    raise UserError(
                        "the separator has no preset: set one, e.g. "
                        "FewShotSeparator(preset='builtin:NAME') or --preset P.json"
                    )
                self._engine = make_engine(
                    int(num_channels), model=self._model, sample_rate=rate, conditioning=self._conditioning,
                    mode=self._mode, mix=self._mix, live_threads=self._threads, offline_threads=self._threads,
                )
                self._engine_key = key
                self._stream = None
            return self._engine

    def reset(self) -> None:
        """Clear the stream state (and the remembered channel layout)."""
        with self._lock:
            if self._engine is not None:
                self._engine.reset()
            self._stream = None
            self._layout.reset()

    # ------------------------------------------------------------------- process
    def process(
        self,
        input_array: np.ndarray,
        sample_rate: float,
        buffer_size: int = 8192,
        reset: bool = True,
    ) -> np.ndarray:
        """Separate `input_array` (see the module docstring for the full contract).

        Args:
            input_array: ``[channels, samples]``, ``[samples, channels]`` or ``[samples]``,
                float32 or float64, in [-1, 1].
            sample_rate: in Hz (any rate; the engine resamples to the model's rate).
            buffer_size: pedalboard's largest block per call (>= 1); the output does not depend on it.
            reset: True = fresh, latency-compensated output; False = continue a stream.

        Returns:
            float32 array, same shape and layout as the input.
        """
        array = np.asarray(input_array)
        with self._lock:
            audio, layout = self._layout.to_channels_first(array)
            out = self.process_channels_first(audio, sample_rate, buffer_size, reset)
        return from_channels_first(out, layout)

    __call__ = process

    def process_channels_first(
        self, audio: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
    ) -> np.ndarray:
        """`process` for ``[channels, n]`` float32 input with no layout detection."""
        try:
            buffer_size = int(buffer_size)
        except (TypeError, ValueError, OverflowError):
            raise InvalidParameter(f"buffer_size {buffer_size!r} is invalid: use a whole number >= 1") from None
        if buffer_size < 1:
            raise InvalidParameter(f"buffer_size {buffer_size} is invalid: use a whole number >= 1")
        with self._lock:
            engine = self.engine_for(sample_rate, audio.shape[0])
            before = engine.nonfinite_outputs
            if reset or self._stream is None:
                self._stream = engine.offline_stream()
            if reset:
                out = run_aligned(self._stream.process, audio, int(engine.latency_samples))
            else:
                out = self._stream.process(audio)
            if engine.nonfinite_outputs != before:
                raise UserError(
                    f"the separator's output held NaN or Inf with preset {self.name!r} (its conditioning is out of "
                    "the model's range, or the model files are damaged): rebuild the preset with `fewshot-sep "
                    "preset create`, or reinstall the model"
                )
            return out

    def label(self) -> str:
        """``FewShotSeparator('violin', isolate, mix=1)``: how a Chain's repr shows it."""
        return f"FewShotSeparator({self.name!r}, {self._mode}, mix={self._mix:g})"

    def __repr__(self) -> str:
        return f"<fewshot_sep.{self.label()} latency_samples={self.latency_samples}; {PEDALBOARD_HINT}>"


def __getattr__(name: str) -> Any:
    """`MultiChannelEngine` and `channel_groups` moved to `fewshot_sep.realtime.multichannel`
    (engine code); importable from here for one release, without importing the engine early."""
    if name in ("MultiChannelEngine", "channel_groups"):
        from fewshot_sep.realtime import multichannel

        return getattr(multichannel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
