"""Export a torch model to a verified model folder (separator, encoder, card, baked presets).

All files are written into a hidden temp folder beside the target and the
folder is renamed onto the target only after every graph has been checked
against torch; any failure removes the temp folder, so the target is either
the complete new model or untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from fewshot_sep.contract import HOP, N_FFT, SAMPLE_RATE, conditioning_dim
from fewshot_sep.export import card as card_mod
from fewshot_sep.export.graphs import (OPSET, baked_separator_to_onnx, encoder_to_onnx, input_planes,
                                      separator_to_onnx)
from fewshot_sep.export.verify import TOLERANCE, VerificationReport, verify_encoder, verify_separator
from fewshot_sep.utils.errors import UserError

# What a model folder may contain; --force only ever replaces folders made of these.
_MODEL_FOLDER_SUFFIXES = (".onnx", ".json", ".ort", ".data")


@dataclass
class BakeRequest:
    """A conditioning vector to fold into its own separator graph.

    Attributes:
        name: the preset's name (the file becomes ``separator_<slug>.onnx``).
        conditioning: ``[D]`` float32 vector (docs/internals.md).
        model_id: id of the model the preset was made with; checked against the
            export's own id (None skips the check, for tests and raw vectors).
        embedding_dim: the preset's embedding size, checked when given.
        rebuild_hint: how to rebuild the preset, shown when the check fails.
    """

    name: str
    conditioning: np.ndarray
    model_id: str | None = None
    embedding_dim: int | None = None
    rebuild_hint: str = ""


@dataclass
class ExportResult:
    """What :func:`export_model` wrote."""

    folder: Path
    model_id: str
    card: dict[str, Any]
    report: VerificationReport
    baked_files: dict[str, Path] = field(default_factory=dict)


def preset_file_name(preset_name: str) -> str:
    """``separator_<slug>.onnx`` with a lowercase ASCII slug of the preset name."""
    slug = re.sub(r"[^a-z0-9]+", "_", preset_name.lower()).strip("_")
    if not slug:  # a name in another script: keep it stable and unique by hashing
        slug = "preset_" + hashlib.sha256(preset_name.encode("utf-8")).hexdigest()[:8]
    return f"separator_{slug}.onnx"


def check_target(out_dir: Path, force: bool) -> None:
    """Refuse a target we must not write: a file, a non-empty folder without ``force``, or a
    folder with anything besides model files (never replaced, even with ``force``)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file: give a folder path for the model")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        foreign = [p.name for p in out_dir.iterdir() if p.is_dir() or p.suffix not in _MODEL_FOLDER_SUFFIXES]
        if foreign:
            raise UserError(
                f"--out {out_dir} holds other things ({', '.join(sorted(foreign)[:5])}): it does not look like a "
                "model folder, so it is not replaced; choose a new or empty folder"
            )
        if not force:
            raise UserError(f"--out {out_dir} already holds a model: pass --force to replace it, or choose another folder")


@contextlib.contextmanager
def _staging_folder(out_dir: Path) -> Iterator[Path]:
    """A hidden temp folder beside ``out_dir``, removed on any failure."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.export-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _install(staging: Path, out_dir: Path) -> None:
    """Rename ``staging`` onto ``out_dir``; an existing target is swapped out, then deleted."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out_dir, old)
    try:
        os.replace(staging, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_model(model: torch.nn.Module, out_dir: str | os.PathLike, *, config: dict[str, Any] | None = None,
                 name: str = "fewshot-sep", training: dict[str, Any] | None = None,
                 bake: Sequence[BakeRequest] = (), opset: int = OPSET, force: bool = False,
                 tolerance: float = TOLERANCE, show_progress: bool = True) -> ExportResult:
    """Export ``model`` (a ``FewShotModel``, put in eval mode) into the model folder ``out_dir`` and verify it.

    Args:
        model: has ``.separator``, ``.encoder``, ``.embedding_dim`` (see ``fewshot_sep.model``).
        out_dir: target folder (created; replaced only with ``force``, see :func:`check_target`).
        config: the run config (for clip lengths); None = defaults.
        name: the card's ``name``.
        training: the card's free-form ``training`` section.
        bake: conditioning vectors to fold into extra separator graphs.
        opset: ONNX opset (docs/internals.md fixes 17).
        force: replace an existing model folder.
        tolerance: max abs difference ONNX vs torch.

    Raises:
        ExportVerificationError: a graph disagrees with torch (nothing is written).
        UserError: bad target folder, a preset made with another model, duplicate preset names.
    """
    out_dir = Path(out_dir).expanduser()
    check_target(out_dir, force)
    config = config or {}
    model = model.eval()
    separator, encoder = model.separator, model.encoder
    embedding_dim = int(model.embedding_dim)
    clip_seconds, min_clip_seconds = card_mod.clip_lengths(config)
    lookahead = int(getattr(separator, "lookahead_frames", 0))
    encoder_frames = sorted({max(1, int(s * SAMPLE_RATE) // HOP) for s in (min_clip_seconds, clip_seconds)})
    bake_files = [preset_file_name(b.name) for b in bake]
    if len(set(bake_files)) != len(bake_files):
        raise UserError(f"presets {[b.name for b in bake]} map to the same file names {bake_files}: "
                        "bake presets with distinct names")
    for request in bake:
        if request.embedding_dim is not None and request.embedding_dim != embedding_dim:
            raise UserError(f"preset {request.name!r} has embedding size {request.embedding_dim} but this model's is "
                            f"{embedding_dim}: it was made with another model. {request.rebuild_hint}".strip())

    report = VerificationReport(tolerance=tolerance)
    steps = 5 + 2 * len(bake)
    with _staging_folder(out_dir) as staging, torch.no_grad(), \
            tqdm(total=steps, desc="export", unit="step", disable=not show_progress) as bar:
        def step(label: str) -> None:
            bar.set_postfix_str(label)

        step("encoder -> ONNX")
        encoder_path = encoder_to_onnx(encoder, staging / card_mod.ENCODER_FILE, opset)
        bar.update()
        step("separator -> ONNX")
        separator_path = separator_to_onnx(separator, staging / card_mod.SEPARATOR_FILE, opset)
        bar.update()
        step("verify encoder")
        verify_encoder(encoder, encoder_path, encoder_frames, tolerance=tolerance, report=report)
        report.raise_if_failed(f"{encoder_path.name}")
        bar.update()
        step("verify separator")
        verify_separator(separator, separator_path, tolerance=tolerance, report=report)
        report.raise_if_failed(f"{separator_path.name}")
        bar.update()
        model_id = card_mod.model_id_of(separator_path, encoder_path)

        baked_entries: list[dict[str, Any]] = []
        baked_files: dict[str, Path] = {}
        for request, file_name in zip(bake, bake_files):
            if request.model_id is not None and request.model_id != model_id:
                raise UserError(
                    f"preset {request.name!r} was made with model {request.model_id} but this export is model "
                    f"{model_id}: a preset's embeddings only fit the encoder that made them. Rebuild the preset with "
                    f"the exported model (export without --preset first, then `fewshot-sep preset create ... "
                    f"--model {out_dir}`). {request.rebuild_hint}".strip()
                )
            vector = np.asarray(request.conditioning, dtype=np.float32).reshape(-1)
            needed = conditioning_dim(embedding_dim)
            if vector.shape[0] != needed or not np.all(np.isfinite(vector)):
                raise UserError(f"preset {request.name!r}: conditioning has {vector.shape[0]} values (finite: "
                                f"{bool(np.all(np.isfinite(vector)))}); this model needs {needed} finite values")
            step(f"bake {file_name}")
            path = baked_separator_to_onnx(separator, vector, staging / file_name, opset)
            bar.update()
            step(f"verify {file_name}")
            verify_separator(separator, path, baked_conditioning=vector, tolerance=tolerance, report=report)
            report.raise_if_failed(file_name)
            bar.update()
            baked_entries.append({
                "file": file_name,
                "preset": request.name,
                "preset_model_id": request.model_id,
                "conditioning_sha256": hashlib.sha256(vector.tobytes()).hexdigest(),
            })
            baked_files[request.name] = out_dir / file_name

        step("model card")
        card = card_mod.build_card(
            model_id=model_id, name=name, sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop=HOP,
            lookahead_frames=lookahead, embedding_dim=embedding_dim, state_shapes=separator.state_shapes,
            clip_seconds=clip_seconds, min_clip_seconds=min_clip_seconds, opset=opset,
            training=training or {"status": "unknown"}, baked=baked_entries, input_planes=input_planes(separator),
            verification={"tolerance": tolerance, "states_tolerance": "tolerance * max(1, max |state|)",
                          "checks": len(report.diffs),
                          "max_abs_diff": float(f"{report.max_diff:.3g}")},
        )
        # The staging folder is renamed as a whole, so a plain write is atomic enough here.
        (staging / card_mod.CARD_NAME).write_text(card_mod.card_text(card), encoding="utf-8")
        _install(staging, out_dir)
        bar.update()
    return ExportResult(folder=out_dir, model_id=model_id, card=card, report=report, baked_files=baked_files)
