"""Save and load a :class:`Chain` as a small JSON document (no code, no pickle).

Format (``format_version`` 1)::

    {
      "format": "fewshot-sep-chain",
      "format_version": 1,
      "plugins": [
        {"type": "HighpassFilter", "cutoff_frequency_hz": 40.0},
        {"type": "FewShotSeparator", "preset": "builtin:bass", "mode": "remove", "mix": 1.0},
        {"type": "Pedalboard", "plugins": [{"type": "Compressor", "threshold_db": -18.0, "ratio": 3.0}]},
        {"type": "Reverb", "room_size": 0.3, "wet_level": 0.2}
      ]
    }

- ``type`` is one of :data:`NATIVE_PLUGINS` (pedalboard's built-in effects), ``"Pedalboard"``
  (a nested native board with its own ``plugins`` list) or ``"FewShotSeparator"``.
- Native parameters are the plugin's public properties; a parameter left out keeps
  pedalboard's default. Enum parameters (``LadderFilter.mode``, ``Resample.quality``,
  ``GSMFullRateCompressor.quality``) are written by member name (``"HPF12"``).
- A separator has ``preset`` (``builtin:NAME``, a library name, or a ``.json`` path; a
  relative path is relative to the chain file's folder), or ``conditioning`` (a list of
  numbers), or neither: then the caller supplies a default preset (``separate --preset``).
  ``mode`` and ``mix`` are optional (preset defaults).
- ``Convolution`` is saved with its ``impulse_response_filename`` (relative paths are
  relative to the chain file's folder); one built from an array cannot be saved.
"""

from __future__ import annotations

import enum
import math
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pedalboard

from fewshot_sep.plugin_host.plugin.chain import Chain
from fewshot_sep.plugin_host.plugin.separator import FewShotSeparator
from fewshot_sep.utils.atomic import write_json_atomic
from fewshot_sep.utils.jsonfile import read_json_file, short_repr
from fewshot_sep.utils.errors import UserError

FORMAT_TAG = "fewshot-sep-chain"
FORMAT_VERSION = 1
SEPARATOR_TYPE = "FewShotSeparator"
BOARD_TYPE = "Pedalboard"
MAX_CHAIN_BYTES = 1024 * 1024
#: Nested Pedalboards deeper than this are refused (a chain this deep is a mistake or an attack).
MAX_BOARD_DEPTH = 16

#: pedalboard classes a chain file may name -> their saved parameters.
NATIVE_PLUGINS: dict[str, tuple[str, ...]] = {
    "Bitcrush": ("bit_depth",),
    "Chorus": ("rate_hz", "depth", "centre_delay_ms", "feedback", "mix"),
    "Clipping": ("threshold_db",),
    "Compressor": ("threshold_db", "ratio", "attack_ms", "release_ms"),
    "Convolution": ("impulse_response_filename", "mix"),
    "Delay": ("delay_seconds", "feedback", "mix"),
    "Distortion": ("drive_db",),
    "Gain": ("gain_db",),
    "GSMFullRateCompressor": ("quality",),
    "HighShelfFilter": ("cutoff_frequency_hz", "gain_db", "q"),
    "HighpassFilter": ("cutoff_frequency_hz",),
    "Invert": (),
    "LadderFilter": ("mode", "cutoff_hz", "resonance", "drive"),
    "Limiter": ("threshold_db", "release_ms"),
    "LowShelfFilter": ("cutoff_frequency_hz", "gain_db", "q"),
    "LowpassFilter": ("cutoff_frequency_hz",),
    "MP3Compressor": ("vbr_quality",),
    "NoiseGate": ("threshold_db", "ratio", "attack_ms", "release_ms"),
    "PeakFilter": ("cutoff_frequency_hz", "gain_db", "q"),
    "Phaser": ("rate_hz", "depth", "centre_frequency_hz", "feedback", "mix"),
    "PitchShift": ("semitones",),
    "Resample": ("target_sample_rate", "quality"),
    "Reverb": ("room_size", "damping", "wet_level", "dry_level", "width", "freeze_mode"),
}

#: (plugin type, parameter) -> the enum class of that parameter.
_ENUM_PARAMETERS: dict[tuple[str, str], type] = {
    ("LadderFilter", "mode"): pedalboard.LadderFilter.Mode,
    ("Resample", "quality"): pedalboard.Resample.Quality,
    ("GSMFullRateCompressor", "quality"): pedalboard.Resample.Quality,
}
_SEPARATOR_KEYS = ("type", "preset", "conditioning", "mode", "mix")


# -------------------------------------------------------------------------- save
def _native_to_json(plugin: pedalboard.Plugin, base: Path) -> dict[str, Any]:
    if isinstance(plugin, pedalboard.Pedalboard):
        return {"type": BOARD_TYPE, "plugins": [_native_to_json(p, base) for p in plugin]}
    type_name = type(plugin).__name__
    if type_name not in NATIVE_PLUGINS or getattr(pedalboard, type_name, None) is not type(plugin):
        raise UserError(
            f"cannot save {plugin!r}: chain files hold only pedalboard's built-in effects "
            f"({', '.join(sorted(NATIVE_PLUGINS))}), nested Pedalboards and FewShotSeparators"
        )
    doc: dict[str, Any] = {"type": type_name}
    for name in NATIVE_PLUGINS[type_name]:
        value = getattr(plugin, name)
        if isinstance(value, enum.Enum) or hasattr(value, "__members__") or (type_name, name) in _ENUM_PARAMETERS:
            value = value.name
        elif name == "impulse_response_filename":
            if not value:
                raise UserError(
                    "cannot save a Convolution built from an array: save the impulse response "
                    "to a file and build Convolution('ir.wav') instead"
                )
            value = _relative_to(Path(value), base)
        elif isinstance(value, (int, float, np.floating)):
            # pedalboard stores float32: write its shortest repr (0.33, not 0.33000001311302185)
            value = float(str(np.float32(value)))
        doc[name] = value
    return doc


def _relative_to(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        return str(path.resolve())


def _separator_to_json(separator: FewShotSeparator, base: Path) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": SEPARATOR_TYPE}
    ref = separator.preset_ref
    if ref is not None:
        if ref.lower().endswith(".json") or os.sep in ref or "/" in ref:
            ref = _relative_to(Path(ref), base)
        doc["preset"] = ref
    elif separator.conditioning is not None:
        doc["conditioning"] = [float(v) for v in separator.conditioning]
    doc["mode"] = separator.mode
    doc["mix"] = float(separator.mix)
    return doc


def chain_to_json(chain: Chain, base: str | os.PathLike = ".") -> dict[str, Any]:
    """The JSON document of `chain`; paths are written relative to folder `base`."""
    base = Path(base)
    plugins = []
    for plugin in chain:
        if isinstance(plugin, FewShotSeparator):
            plugins.append(_separator_to_json(plugin, base))
        else:
            plugins.append(_native_to_json(plugin, base))
    return {"format": FORMAT_TAG, "format_version": FORMAT_VERSION, "plugins": plugins}


def save_chain(chain: Chain, path: str | os.PathLike) -> Path:
    """Write `chain` to `path` as JSON, atomically; returns the path."""
    path = Path(path)
    write_json_atomic(path, chain_to_json(chain, base=path.parent))
    return path


# -------------------------------------------------------------------------- load
class _Loader:
    def __init__(
        self,
        where: str,
        base: Path,
        make_separator: Callable[[dict[str, Any], str], FewShotSeparator],
    ) -> None:
        self.where = where
        self.base = base
        self.make_separator = make_separator

    def fail(self, at: str, message: str) -> UserError:
        return UserError(f"{self.where}: {at}: {message}")

    def plugin_list(self, items: Any, at: str) -> list:
        if at.count(".plugins") > MAX_BOARD_DEPTH:
            raise self.fail(at, f"Pedalboards are nested more than {MAX_BOARD_DEPTH} deep: flatten the chain")
        if not isinstance(items, list):
            raise self.fail(at, f"'plugins' must be a list of plugin objects, found {type(items).__name__}")
        return [self.plugin(item, f"{at}[{i}]") for i, item in enumerate(items)]

    def plugin(self, doc: Any, at: str) -> Any:
        if not isinstance(doc, dict):
            raise self.fail(at, f"each plugin must be an object like {{\"type\": \"Gain\", \"gain_db\": 3}}, found {short_repr(doc)}")
        type_name = doc.get("type")
        if type_name == SEPARATOR_TYPE:
            unknown = sorted(set(doc) - set(_SEPARATOR_KEYS))
            if unknown:
                raise self.fail(
                    at, f"unknown FewShotSeparator parameter(s) {unknown}: valid are {list(_SEPARATOR_KEYS[1:])}"
                )
            return self.make_separator(doc, at)
        if type_name == BOARD_TYPE:
            unknown = sorted(set(doc) - {"type", "plugins"})
            if unknown:
                raise self.fail(at, f"unknown Pedalboard key(s) {unknown}: a nested board has only 'plugins'")
            items = doc.get("plugins", [])
            if isinstance(items, list) and any(isinstance(i, dict) and i.get("type") == SEPARATOR_TYPE for i in items):
                raise self.fail(
                    at, "a nested Pedalboard holds native plugins only: put FewShotSeparator in the top-level list"
                )
            return pedalboard.Pedalboard(self.plugin_list(items, f"{at}.plugins"))
        if type_name not in NATIVE_PLUGINS:
            valid = ", ".join([SEPARATOR_TYPE, BOARD_TYPE] + sorted(NATIVE_PLUGINS))
            raise self.fail(at, f"unknown plugin type {type_name!r}: valid types are {valid}")
        return self.native(type_name, doc, at)

    def native(self, type_name: str, doc: dict[str, Any], at: str) -> pedalboard.Plugin:
        allowed = NATIVE_PLUGINS[type_name]
        kwargs: dict[str, Any] = {}
        for key, value in doc.items():
            if key == "type":
                continue
            if key not in allowed:
                raise self.fail(
                    at,
                    f"unknown {type_name} parameter {key!r}: valid are {list(allowed) or 'none'}",
                )
            enum_cls = _ENUM_PARAMETERS.get((type_name, key))
            if enum_cls is not None:
                members = list(enum_cls.__members__)
                if value not in members:
                    raise self.fail(at, f"{type_name}.{key} = {value!r} is invalid: use one of {members}")
                value = enum_cls.__members__[value]
            elif key == "impulse_response_filename":
                if not isinstance(value, str) or not value:
                    raise self.fail(at, f"Convolution.impulse_response_filename must be a file path, found {value!r}")
                path = Path(value).expanduser()
                path = path if path.is_absolute() else self.base / path
                if not path.is_file():
                    raise self.fail(at, f"impulse response file {str(path)!r} does not exist")
                value = str(path)
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(at, f"{type_name}.{key} = {short_repr(value)} must be a number")
            elif not math.isfinite(value):
                raise self.fail(at, f"{type_name}.{key} = {value!r} must be a finite number")
            kwargs[key] = value
        if type_name == "Convolution" and "impulse_response_filename" not in kwargs:
            raise self.fail(at, "Convolution needs 'impulse_response_filename' (a WAV/FLAC file path)")
        try:
            return getattr(pedalboard, type_name)(**kwargs)
        except (ValueError, TypeError, RuntimeError) as err:
            raise self.fail(at, f"invalid {type_name} parameters {kwargs}: {err}") from err


def chain_from_json(
    doc: Any,
    where: str = "chain",
    base: str | os.PathLike = ".",
    model: Any = None,
    default_preset: Any = None,
    mode_override: str | None = None,
    mix_override: float | None = None,
) -> Chain:
    """Build a Chain from its JSON document.

    Args:
        doc: the parsed JSON.
        where: a label for messages (the file name).
        base: folder that relative paths are resolved against.
        model: model for the separators (None = packaged).
        default_preset: preset for separators that name none (e.g. ``separate --preset``).
        mode_override, mix_override: if given, replace every separator's mode / mix.

    Raises:
        UserError: wrong format tag or version, unknown plugin types or parameters,
            values out of range, or a separator with no preset and no default.
    """
    base = Path(base)

    def make_separator(item: dict[str, Any], at: str) -> FewShotSeparator:
        ref = item.get("preset")
        conditioning = item.get("conditioning")
        if ref is not None and conditioning is not None:
            raise UserError(f"{where}: {at}: give 'preset' or 'conditioning', not both")
        if ref is not None:
            if not isinstance(ref, str) or not ref:
                raise UserError(f"{where}: {at}: 'preset' must be builtin:NAME, a library name or a .json path")
            if (ref.lower().endswith(".json") or "/" in ref) and not Path(ref).expanduser().is_absolute():
                ref = str(base / ref)
        elif conditioning is None:
            if default_preset is None:
                raise UserError(
                    f"{where}: {at}: this FewShotSeparator names no preset: add \"preset\": \"builtin:NAME\" "
                    "to it, or give one with --preset"
                )
            ref = default_preset
        mode = mode_override if mode_override is not None else item.get("mode")
        mix = mix_override if mix_override is not None else item.get("mix")
        if conditioning is not None:
            if not isinstance(conditioning, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in conditioning
            ):
                raise UserError(f"{where}: {at}: 'conditioning' must be a list of numbers")
            return FewShotSeparator(mode=mode, mix=mix, conditioning=np.asarray(conditioning, np.float32), model=model)
        return FewShotSeparator(ref, mode=mode, mix=mix, model=model)

    if not isinstance(doc, dict):
        raise UserError(f"{where}: a chain file must hold a JSON object with 'plugins', found {type(doc).__name__}")
    if doc.get("format", FORMAT_TAG) != FORMAT_TAG:
        raise UserError(f"{where}: 'format' is {doc.get('format')!r}, expected {FORMAT_TAG!r}: not a chain file")
    version = doc.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise UserError(
            f"{where}: format_version {version!r} is not supported (valid: {FORMAT_VERSION}); update fewshot-sep"
        )
    unknown = sorted(set(doc) - {"format", "format_version", "plugins"})
    if unknown:
        raise UserError(f"{where}: unknown top-level key(s) {unknown}: valid are format, format_version, plugins")
    if "plugins" not in doc:
        raise UserError(f"{where}: missing 'plugins' (a list of plugin objects)")
    loader = _Loader(where, base, make_separator)
    return Chain(loader.plugin_list(doc["plugins"], "plugins"))


def read_chain_document(path: str | os.PathLike) -> Any:
    """The parsed JSON of a chain file (not yet checked); raises UserError if it cannot be read."""
    # the safe reader: file type and size checked before reading, parse errors as UserError
    return read_json_file(Path(path), "chain file", MAX_CHAIN_BYTES, "fix it, or save the chain again with save_chain")


def load_chain(
    path: str | os.PathLike,
    model: Any = None,
    default_preset: Any = None,
    mode_override: str | None = None,
    mix_override: float | None = None,
) -> Chain:
    """Read a chain JSON file (see the module docstring); raises UserError on any problem."""
    path = Path(path)
    return chain_from_json(
        read_chain_document(path),
        where=str(path),
        base=path.parent,
        model=model,
        default_preset=default_preset,
        mode_override=mode_override,
        mix_override=mix_override,
    )
