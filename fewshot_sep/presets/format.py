"""The preset document: an in-memory `Preset` and its versioned JSON form.

A preset is what a producer makes once from a few example clips and reuses in
any session. On disk it is a small JSON document (never pickle)::

    {
      "format": "fewshot-sep-preset",
      "format_version": 1,
      "name": "my upright bass",
      "description": "",
      "model_id": "0123456789abcdef",
      "embedding_dim": 128,
      "created": "2026-11-25T04:30:00Z",
      "modified": "2026-11-25T04:30:00Z",
      "defaults": {"mode": "isolate", "mix": 1.0},
      "positive": {"count": 12, "sum": [... E float64 ...], "mean": [... E float32 ...]},
      "negative": {"count": 0, "sum": null, "mean": null},
      "clips": [{"file": "bass1.wav", "sha256": "...", "segment": [12.5, 20.0],
                 "duration_s": 7.5, "n_clips": 4, "n_skipped": 0, "role": "positive",
                 "sample_rate": 48000, "channels": 2}, ...]
    }

Precision: per-clip embeddings are float32; ``sum`` is their running float64
sum, accumulated clip by clip in the order of ``clips`` (so adding examples
later continues the very same sum), and ``mean`` is ``float32(sum / count)``.
Python writes floats with ``repr``, which round-trips, so save -> load is bit
exact. The loader re-derives ``mean`` from ``sum`` and ``count`` and checks the
counts against ``clips``: a hand-edited or corrupted file is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fewshot_sep.contract.controls import MODES, check_mix, check_mode  # noqa: F401 - MODES re-exported
from fewshot_sep.realtime.conditioning import check_embedding_norm
from fewshot_sep.utils.atomic import write_text_atomic
from fewshot_sep.utils.errors import UserError
from fewshot_sep.utils.jsonfile import read_json_file, short_repr

FORMAT_TAG = "fewshot-sep-preset"
FORMAT_VERSION = 1
ROLES = ("positive", "negative")
MAX_DESCRIPTION_CHARS = 2000
MAX_PRESET_BYTES = 16 * 1024 * 1024

_MODEL_ID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def utc_now() -> str:
    """Current UTC time as an ISO 8601 string with a ``Z`` suffix, second resolution."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(eq=False)  # numpy fields: compare with to_json() or the arrays
class EmbeddingSum:
    """Running sum of per-clip embeddings.

    Attributes:
        count: number of clips summed (0 = none).
        total: ``[E]`` float64 sum of the clips' float32 embeddings, or None when count is 0.
    """

    count: int = 0
    total: np.ndarray | None = None

    def add(self, embeddings: np.ndarray) -> None:
        """Add ``[N, E]`` embeddings one clip at a time, in order (so the sum is reproducible)."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be [N, E], got shape {embeddings.shape}")
        for row in embeddings:
            row64 = row.astype(np.float64)
            self.total = row64.copy() if self.total is None else self.total + row64
            self.count += 1

    def mean(self) -> np.ndarray | None:
        """``[E]`` float32 mean embedding, or None when no clip was added."""
        if self.count == 0 or self.total is None:
            return None
        return (self.total / self.count).astype(np.float32)

    def copy(self) -> "EmbeddingSum":
        return EmbeddingSum(self.count, None if self.total is None else self.total.copy())

    def __repr__(self) -> str:  # the sum's E floats stay out of sight (see Preset.__repr__)
        size = "None" if self.total is None else f"<[{self.total.shape[0]}] float64>"
        return f"EmbeddingSum(count={self.count}, total={size})"


@dataclass
class ClipRecord:
    """What a preset remembers about one example file (not the audio itself).

    Attributes:
        file: the file's base name as given (no folders, so presets can be shared).
        sha256: hex digest of the whole file's bytes.
        segment: ``(start_s, end_s)`` chosen with ``FILE@START-END``; ``end_s`` None = to the end.
        duration_s: seconds of audio used, after silence trimming.
        n_clips: encoder clips cut from it that contributed to the mean.
        n_skipped: near-silent clips that were left out.
        role: "positive" (the instrument) or "negative" (what not to separate).
        sample_rate: the file's sample rate in Hz.
        channels: the file's channel count.
    """

    file: str
    sha256: str
    segment: tuple[float, float | None] | None
    duration_s: float
    n_clips: int
    n_skipped: int
    role: str
    sample_rate: int
    channels: int

    def spec(self) -> str:
        """The example as it would be typed on the command line (``name.wav@12.5-20``)."""
        if self.segment is None:
            return self.file
        start, end = self.segment
        return f"{self.file}@{start:g}-{'' if end is None else f'{end:g}'}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "segment": None if self.segment is None else [self.segment[0], self.segment[1]],
            "duration_s": self.duration_s,
            "n_clips": self.n_clips,
            "n_skipped": self.n_skipped,
            "role": self.role,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
        }


@dataclass(eq=False)
class Preset:
    """An instrument preset: the mean example embeddings plus where they came from.

    Attributes:
        name: display name (also the library file name, see `library`).
        model_id: id of the model whose encoder made the embeddings.
        embedding_dim: E, the encoder's embedding size.
        positive / negative: running sums of per-clip embeddings.
        clips: one record per example file, in the order they were summed.
        default_mode: "isolate" or "remove".
        default_mix: wet/dry default in [0, 1].
        description: free text.
        created / modified: ISO 8601 UTC times.
        source: where it was loaded from (not saved), for messages.
    """

    name: str
    model_id: str
    embedding_dim: int
    positive: EmbeddingSum
    negative: EmbeddingSum = field(default_factory=EmbeddingSum)
    clips: list[ClipRecord] = field(default_factory=list)
    default_mode: str = "isolate"
    default_mix: float = 1.0
    description: str = ""
    created: str = field(default_factory=utc_now)
    modified: str = field(default_factory=utc_now)
    source: str | None = None

    def __repr__(self) -> str:
        """One short line (the dataclass default printed both embedding sums: hundreds of floats)."""
        negatives = f", {self.negative.count} negative" if self.negative.count else ""
        return (
            f"<fewshot_sep.presets.Preset {self.name!r}: {self.positive.count} positive clip(s){negatives} "
            f"from {len(self.clips)} file(s), default {self.default_mode} mix {self.default_mix:g}, "
            f"model {self.model_id}>"
        )

    # -- conditioning ---------------------------------------------------------------------
    @property
    def positive_mean(self) -> np.ndarray:
        """``[E]`` float32 mean embedding of the positive clips."""
        mean = self.positive.mean()
        if mean is None:
            raise UserError(f"preset {self.name!r} has no positive examples")
        return mean

    @property
    def negative_mean(self) -> np.ndarray | None:
        """``[E]`` float32 mean embedding of the negative clips, or None without negatives."""
        return self.negative.mean()

    def conditioning(self) -> np.ndarray:
        """The separator's conditioning vector ``[2E + 1]`` float32 (see docs/internals.md)."""
        from fewshot_sep.realtime.conditioning import build_conditioning

        return build_conditioning(self.positive_mean, self.negative_mean)

    def rebuild_command(self) -> str:
        """A `preset create` command line that rebuilds this preset from its example files."""
        def quote(text: str) -> str:
            return text if re.fullmatch(r"[\w@.,:+=/-]+", text) else "'" + text.replace("'", "'\\''") + "'"

        parts = ["fewshot-sep preset create", quote(self.name), "--examples"]
        parts += [quote(c.spec()) for c in self.clips if c.role == "positive"]
        negatives = [quote(c.spec()) for c in self.clips if c.role == "negative"]
        if negatives:
            parts += ["--negative", *negatives]
        return " ".join(parts)

    # -- JSON -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON document (plain dict) of this preset; floats are exact (see module doc)."""
        def stats(s: EmbeddingSum) -> dict[str, Any]:
            mean = s.mean()
            return {
                "count": s.count,
                "sum": None if s.total is None else [float(v) for v in s.total],
                "mean": None if mean is None else [float(v) for v in mean],
            }

        return {
            "format": FORMAT_TAG,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "model_id": self.model_id,
            "embedding_dim": self.embedding_dim,
            "created": self.created,
            "modified": self.modified,
            "defaults": {"mode": self.default_mode, "mix": float(self.default_mix)},
            "positive": stats(self.positive),
            "negative": stats(self.negative),
            "clips": [c.to_json() for c in self.clips],
        }

    def to_text(self) -> str:
        """The JSON text written to disk (indented; each embedding vector on one line)."""
        doc = self.to_json()
        # Lay vectors out on one line each: dump them separately and splice them in
        # through unique placeholder strings.
        token = f"@vector-{uuid.uuid4().hex}-"
        vectors: dict[str, str] = {}
        for role in ROLES:
            for key in ("sum", "mean"):
                if doc[role][key] is not None:
                    placeholder = f"{token}{role}-{key}"
                    vectors[json.dumps(placeholder)] = json.dumps(doc[role][key])
                    doc[role][key] = placeholder
        text = json.dumps(doc, indent=1, ensure_ascii=False)
        for placeholder, vector in vectors.items():
            text = text.replace(placeholder, vector, 1)
        return text + "\n"

    @classmethod
    def from_json(cls, doc: Any, where: str = "preset") -> "Preset":
        """Validate a parsed JSON document and build the preset; raise UserError naming the problem."""
        return _parse_document(doc, where)


# ---------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------


def save_preset(preset: Preset, path: str | os.PathLike) -> Path:
    """Write `preset` as JSON to `path` atomically (temp file + rename); returns the path.

    The document is validated first, so an invalid preset never reaches the disk.
    """
    path = Path(path)
    text = preset.to_text()
    # Parse back what we are about to write: catches NaN/inf or inconsistent counts early.
    Preset.from_json(json.loads(text), where=f"preset {preset.name!r}")
    write_text_atomic(path, text)  # mode from the umask, like any file the user writes
    return path


def load_preset(path: str | os.PathLike) -> Preset:
    """Read and validate a preset JSON file (no model check; see `resolve_preset`).

    Raises:
        UserError: missing or unreadable file, invalid JSON (e.g. truncated), or a document
            that fails validation (missing keys, wrong sizes, NaN, counts or means that do not
            match, i.e. a file edited by hand or corrupted).
    """
    path = Path(path)
    where = f"preset file {str(path)!r}"
    doc = read_json_file(path, "preset file", MAX_PRESET_BYTES,
                         "export it again or rebuild it with `fewshot-sep preset create`")
    preset = _parse_document(doc, where)
    preset.source = str(path)
    return preset


# ---------------------------------------------------------------------------------------
# Validation (hand-written: strict, with messages that name the key)
# ---------------------------------------------------------------------------------------


class _Invalid(Exception):
    pass


_short = short_repr


class _InvalidDefault(_Invalid):
    """A bad ``defaults`` value; the contract's message, said of ``defaults.<key>``."""

    def __init__(self, message: str) -> None:
        super().__init__(f"defaults.{message}")


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise _Invalid(message)


def _get(obj: dict, key: str, types: type | tuple, ctx: str, allow_none: bool = False) -> Any:
    _expect(key in obj, f"missing key {ctx}{key!r}")
    value = obj[key]
    if value is None and allow_none:
        return None
    # bool is an int subclass: never accept it where a number is expected.
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in _as_tuple(types))
    _expect(ok, f"{ctx}{key!r} must be {_type_names(types)}{' or null' if allow_none else ''}, got {_short(value)}")
    return value


def _as_tuple(types: type | tuple) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types: type | tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "an object", bool: "true/false"}
    return " or ".join(names.get(t, t.__name__) for t in _as_tuple(types))


def _check_keys(obj: dict, allowed: set[str], ctx: str) -> None:
    extra = sorted(set(obj) - allowed)
    _expect(not extra, f"unknown key(s) {ctx}{', '.join(map(repr, extra))}")


def _finite_vector(values: Any, dim: int, ctx: str) -> np.ndarray:
    _expect(isinstance(values, list), f"{ctx} must be a list of {dim} numbers")
    _expect(len(values) == dim, f"{ctx} has {len(values)} values, expected embedding_dim = {dim}")
    for i, v in enumerate(values):
        _expect(isinstance(v, (int, float)) and not isinstance(v, bool), f"{ctx}[{i}] is not a number: {_short(v)}")
        _expect(math.isfinite(v), f"{ctx}[{i}] is not finite: {v!r}")
    return np.asarray(values, dtype=np.float64)


def _parse_time(value: Any, ctx: str) -> str:
    _expect(isinstance(value, str), f"{ctx} must be an ISO 8601 time string")
    try:
        _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid(f"{ctx} is not an ISO 8601 time: {_short(value)}") from None
    return value


def _parse_stats(doc: dict, key: str, dim: int) -> EmbeddingSum:
    obj = _get(doc, key, dict, "")
    ctx = f"{key}."
    _check_keys(obj, {"count", "sum", "mean"}, ctx)
    count = _get(obj, "count", int, ctx)
    _expect(count >= 0, f"{ctx}count must be >= 0, got {count}")
    if count == 0:
        _expect(obj.get("sum") is None and obj.get("mean") is None, f"{ctx}sum and mean must be null when count is 0")
        return EmbeddingSum()
    total = _finite_vector(_get(obj, "sum", list, ctx), dim, f"{ctx}sum")
    mean = _finite_vector(_get(obj, "mean", list, ctx), dim, f"{ctx}mean")
    stats = EmbeddingSum(count, total)
    try:
        check_embedding_norm(mean, f"{ctx}mean")
        check_embedding_norm(total, f"{ctx}sum", count)
    except UserError as err:
        raise _Invalid(str(err).split(": the preset was edited")[0]) from None
    derived = stats.mean()
    assert derived is not None
    _expect(
        np.array_equal(derived.astype(np.float64), mean),
        f"{ctx}mean does not equal sum / count (count {count}): the file was edited or corrupted",
    )
    return stats


def _parse_clip(obj: Any, index: int) -> ClipRecord:
    ctx = f"clips[{index}]."
    _expect(isinstance(obj, dict), f"clips[{index}] must be an object")
    _check_keys(obj, {"file", "sha256", "segment", "duration_s", "n_clips", "n_skipped", "role", "sample_rate", "channels"}, ctx)
    file = _get(obj, "file", str, ctx)
    _expect(0 < len(file) <= 1024, f"{ctx}file must be a non-empty name")
    sha = _get(obj, "sha256", str, ctx)
    _expect(bool(_SHA256.match(sha)), f"{ctx}sha256 must be 64 lowercase hex digits")
    seg = _get(obj, "segment", list, ctx, allow_none=True)
    segment = None
    if seg is not None:
        _expect(len(seg) == 2, f"{ctx}segment must be [start_s, end_s or null]")
        start, end = seg
        _expect(isinstance(start, (int, float)) and not isinstance(start, bool) and math.isfinite(start) and start >= 0,
                f"{ctx}segment start must be a number >= 0")
        _expect(end is None or (isinstance(end, (int, float)) and not isinstance(end, bool) and math.isfinite(end) and end > start),
                f"{ctx}segment end must be null or a number > start")
        segment = (float(start), None if end is None else float(end))
    duration = _get(obj, "duration_s", (int, float), ctx)
    _expect(math.isfinite(duration) and duration > 0, f"{ctx}duration_s must be > 0")
    n_clips = _get(obj, "n_clips", int, ctx)
    _expect(n_clips >= 1, f"{ctx}n_clips must be >= 1")
    n_skipped = _get(obj, "n_skipped", int, ctx)
    _expect(n_skipped >= 0, f"{ctx}n_skipped must be >= 0")
    role = _get(obj, "role", str, ctx)
    _expect(role in ROLES, f"{ctx}role must be one of {ROLES}, got {_short(role)}")
    sample_rate = _get(obj, "sample_rate", int, ctx)
    _expect(sample_rate > 0, f"{ctx}sample_rate must be > 0")
    channels = _get(obj, "channels", int, ctx)
    _expect(channels > 0, f"{ctx}channels must be > 0")
    return ClipRecord(file, sha, segment, float(duration), n_clips, n_skipped, role, sample_rate, channels)


def _parse_document(doc: Any, where: str) -> Preset:
    from fewshot_sep.presets.names import check_name

    try:
        _expect(isinstance(doc, dict), "the document must be a JSON object")
        _expect(doc.get("format") == FORMAT_TAG, f"'format' must be {FORMAT_TAG!r}: this is not a fewshot-sep preset")
        version = _get(doc, "format_version", int, "")
        if version > FORMAT_VERSION:
            raise UserError(
                f"{where} has format_version {version}, made by a newer fewshot-sep (this one reads "
                f"<= {FORMAT_VERSION}): upgrade fewshot-sep"
            )
        _expect(version == FORMAT_VERSION, f"format_version {version} is not supported (expected {FORMAT_VERSION})")
        _check_keys(doc, {"format", "format_version", "name", "description", "model_id", "embedding_dim",
                          "created", "modified", "defaults", "positive", "negative", "clips"}, "")
        name = _get(doc, "name", str, "")
        try:
            check_name(name)
        except UserError as err:
            raise _Invalid(f"'name': {err}") from None
        description = _get(doc, "description", str, "")
        _expect(len(description) <= MAX_DESCRIPTION_CHARS, f"'description' is longer than {MAX_DESCRIPTION_CHARS} characters")
        model_id = _get(doc, "model_id", str, "")
        _expect(bool(_MODEL_ID.match(model_id)), "'model_id' must be 1-64 letters, digits, '.', '_' or '-'")
        dim = _get(doc, "embedding_dim", int, "")
        _expect(0 < dim <= 65536, f"'embedding_dim' must be in 1..65536, got {dim}")
        created = _parse_time(doc.get("created"), "'created'")
        modified = _parse_time(doc.get("modified"), "'modified'")
        defaults = _get(doc, "defaults", dict, "")
        _check_keys(defaults, {"mode", "mix"}, "defaults.")
        mode = check_mode(_get(defaults, "mode", str, "defaults."), _InvalidDefault)
        mix = check_mix(_get(defaults, "mix", (int, float), "defaults."), _InvalidDefault)
        positive = _parse_stats(doc, "positive", dim)
        _expect(positive.count >= 1, "positive.count must be >= 1: a preset needs positive examples")
        negative = _parse_stats(doc, "negative", dim)
        clips_raw = _get(doc, "clips", list, "")
        clips = [_parse_clip(c, i) for i, c in enumerate(clips_raw)]
        for role, stats in (("positive", positive), ("negative", negative)):
            n = sum(c.n_clips for c in clips if c.role == role)
            _expect(n == stats.count, f"{role}.count is {stats.count} but the {role} clips list {n} clips: "
                    "the file was edited or corrupted")
    except _Invalid as err:
        raise UserError(
            f"{where} is invalid: {err}. Re-export the preset, or rebuild it with `fewshot-sep preset create`"
        ) from None
    return Preset(
        name=name, model_id=model_id, embedding_dim=dim, positive=positive, negative=negative, clips=clips,
        default_mode=mode, default_mix=float(mix), description=description, created=created, modified=modified,
    )
