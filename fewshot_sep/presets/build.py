"""Build presets from example clips, and add examples to an existing preset.

Embeddings come from the model's ONNX conditioning encoder (no torch). Each file's
clips are embedded in their own encoder call(s), in file order, and summed clip by
clip in float64, so `add_examples(create_preset(A), B)` equals `create_preset(A + B)`
bit for bit.
"""

from __future__ import annotations

import copy
import os
import warnings
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from fewshot_sep.contract.controls import check_mix, check_mode
from fewshot_sep.presets.examples import ExampleSpec, PreparedExample, parse_example, prepare_example
from fewshot_sep.presets.format import ClipRecord, EmbeddingSum, Preset, utc_now
from fewshot_sep.presets.names import check_name
from fewshot_sep.realtime.model_files import ModelFiles
from fewshot_sep.utils.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from fewshot_sep.realtime.encoder import ClipEncoder

ExampleArg = "str | os.PathLike | ExampleSpec"

#: Clips per encoder call (bounds memory for long files; the split is the same on every run).
ENCODER_BATCH = 16


class PresetWarning(UserWarning):
    """A problem with an example that does not stop the build (e.g. clipping)."""


def _default_warn(message: str) -> None:
    warnings.warn(message, PresetWarning, stacklevel=3)


def _card_seconds(model: "ModelFiles") -> tuple[float, float]:
    clip_seconds = float(model.card.get("clip_seconds", 3.0))
    min_clip_seconds = float(model.card.get("min_clip_seconds", 1.0))
    return clip_seconds, min_clip_seconds


def _segment_key(segment: tuple[float, float | None] | None) -> tuple[float, float | None] | None:
    """``FILE@0-`` is the whole file: the same key as no segment."""
    return None if segment is None or segment == (0.0, None) else segment


def _prepare_all(
    positives: Sequence[ExampleSpec],
    negatives: Sequence[ExampleSpec],
    model: "ModelFiles",
    existing: Iterable[ClipRecord] = (),
    *,
    strict: bool = True,
    warn: Callable[[str], None] = _default_warn,
    need_positive: bool = True,
) -> list[PreparedExample]:
    """Read and check every example; return the usable ones.

    With `strict`, any bad file raises one UserError listing every bad file. Otherwise each
    bad file is left out with a warning, and the error is raised only when nothing usable is
    left (no positive example when `need_positive`, else no example at all).
    """
    clip_seconds, min_clip_seconds = _card_seconds(model)
    prepared = [
        prepare_example(spec, role, model.sample_rate, clip_seconds, min_clip_seconds)
        for role, specs in (("positive", positives), ("negative", negatives))
        for spec in specs
    ]
    problems = {id(p): p.error for p in prepared if p.error}
    # The same audio (same bytes, same segment) twice would silently double its weight.
    seen: dict[tuple, str] = {
        (rec.sha256, _segment_key(rec.segment)): f"{rec.spec()} (already in the preset as a {rec.role} example)"
        for rec in existing
    }
    for p in prepared:
        if p.error or not p.sha256:
            continue
        key = (p.sha256, _segment_key(p.spec.segment))
        if key in seen:
            problems[id(p)] = (
                f"{p.spec.label}: the same file{' and segment' if p.spec.segment else ''} as {seen[key]} "
                f"(sha256 {p.sha256[:12]}...); give each example once"
            )
        else:
            seen[key] = f"{p.spec.label} ({p.role})"
    usable = [p for p in prepared if id(p) not in problems]
    enough = any(p.role == "positive" for p in usable) if need_positive else bool(usable)
    if problems and (strict or not enough):
        n = len(problems)
        raise UserError(
            f"{n} example{'s' if n > 1 else ''} cannot be used, nothing was written:\n  - "
            + "\n  - ".join(problems.values())
        )
    for problem in problems.values():
        warn(f"{problem}; left out: the preset is built from the other example(s) (--strict refuses instead)")
    return usable


def _embed_into(
    prepared: Sequence[PreparedExample],
    preset: Preset,
    encoder: "ClipEncoder",
    progress: bool,
) -> None:
    """Embed each file's clips and add them to the preset's sums and clip records (in order)."""
    from tqdm import tqdm

    total = sum(len(p.clips) for p in prepared)
    with tqdm(total=total, unit="clip", desc="embedding examples", disable=not progress, leave=False) as bar:
        for p in prepared:
            stats = preset.positive if p.role == "positive" else preset.negative
            for i in range(0, len(p.clips), ENCODER_BATCH):
                batch = p.clips[i : i + ENCODER_BATCH]
                embeddings = np.asarray(encoder.embed(batch), dtype=np.float32)
                if embeddings.shape != (len(batch), preset.embedding_dim):
                    raise RuntimeError(
                        f"encoder returned shape {embeddings.shape}, expected {(len(batch), preset.embedding_dim)}"
                    )
                if not np.all(np.isfinite(embeddings)):
                    raise UserError(f"{p.spec.label}: the encoder produced NaN/inf embeddings; the model may be broken")
                stats.add(embeddings)
                bar.update(len(batch))
            preset.clips.append(
                ClipRecord(
                    file=p.spec.path.name,
                    sha256=p.sha256,
                    segment=p.spec.segment,
                    duration_s=round(p.duration_s, 6),
                    n_clips=len(p.clips),
                    n_skipped=p.n_skipped,
                    role=p.role,
                    sample_rate=p.sample_rate,
                    channels=p.channels,
                )
            )


def _make_encoder(model: "ModelFiles", encoder: "ClipEncoder | None") -> "ClipEncoder":
    if encoder is not None:
        return encoder
    from fewshot_sep.realtime.encoder import ClipEncoder

    return ClipEncoder(model)


def create_preset(
    name: str,
    examples: Sequence[ExampleArg],
    negatives: Sequence[ExampleArg] = (),
    model: "ModelFiles | str | os.PathLike | None" = None,
    *,
    encoder: "ClipEncoder | None" = None,
    description: str = "",
    mode: str = "isolate",
    mix: float = 1.0,
    progress: bool = False,
    on_warning: Callable[[str], None] | None = None,
    strict: bool = False,
) -> Preset:
    """Build a preset from example files (nothing is written; see `save_preset`).

    Args:
        name: the preset's name (see `fewshot_sep.presets.names`).
        examples: files of the instrument, each ``path`` or ``"path@START-END"`` (seconds).
        negatives: files of what should NOT be separated (same syntax).
        model: ModelFiles, a model folder, or None for the packaged model.
        encoder: a ready `ClipEncoder` for `model` (saves loading it again when building many).
        description, mode, mix: stored defaults.
        progress: show a progress bar while embedding.
        on_warning: called with each warning message (default: `warnings.warn` a PresetWarning).
        strict: refuse the build when any example is bad; by default a bad file is left out
            with a warning, as long as one good positive example remains.

    Returns:
        The new `Preset`.

    Raises:
        UserError: bad name, no examples, no usable positive example, or (`strict`) any bad
            example; every bad file is listed in one message.
    """
    name = check_name(name)
    check_mode(mode)
    check_mix(mix)
    if not examples:
        raise UserError("no examples given: pass at least one audio file of the instrument (--examples A.wav ...)")
    model = ModelFiles.load(model)
    positives = [parse_example(e) for e in examples]
    negative_specs = [parse_example(e) for e in negatives]
    warn = on_warning or _default_warn
    prepared = _prepare_all(positives, negative_specs, model, strict=strict, warn=warn)
    for p in prepared:
        for message in p.warnings:
            warn(message)
    now = utc_now()
    preset = Preset(
        name=name, model_id=model.model_id, embedding_dim=int(model.embedding_dim), positive=EmbeddingSum(),
        default_mode=mode, default_mix=float(mix), description=description, created=now, modified=now,
    )
    _embed_into(prepared, preset, _make_encoder(model, encoder), progress)
    return preset


def add_examples(
    preset: Preset,
    examples: Sequence[ExampleArg] = (),
    negatives: Sequence[ExampleArg] = (),
    model: "ModelFiles | str | os.PathLike | None" = None,
    *,
    encoder: "ClipEncoder | None" = None,
    progress: bool = False,
    on_warning: Callable[[str], None] | None = None,
    strict: bool = False,
) -> Preset:
    """Return a copy of `preset` with more positive and/or negative examples.

    The running sums continue where they stopped, so the result equals `create_preset`
    on all the files in the same order, bit for bit. `preset` itself is not modified.

    A bad file (or one already in the preset) is left out with a warning, unless `strict`
    (then nothing is changed); with no usable file at all nothing is changed either.

    Raises:
        UserError: no files given, the preset was made with another model, no usable file, or
            (`strict`) any bad example.
    """
    from fewshot_sep.presets.resolve import check_model

    if not examples and not negatives:
        raise UserError("nothing to add: pass --examples and/or --negative files")
    model = ModelFiles.load(model)
    check_model(preset, model)
    warn = on_warning or _default_warn
    prepared = _prepare_all(
        [parse_example(e) for e in examples], [parse_example(e) for e in negatives], model, existing=preset.clips,
        strict=strict, warn=warn, need_positive=False,
    )
    for p in prepared:
        for message in p.warnings:
            warn(message)
    updated = copy.deepcopy(preset)
    _embed_into(prepared, updated, _make_encoder(model, encoder), progress)
    updated.modified = utc_now()
    return updated
