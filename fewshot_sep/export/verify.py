"""Check exported graphs against the torch model on fixed inputs.

Every export is reloaded with onnxruntime (same settings as the run-time
engine: one thread, full graph optimisation) and compared with the torch
module it came from. Checks, each with max abs difference < ``tolerance``:

- separator: B in {1, 2} x T in {1, 16}, two consecutive calls each, the
  states carried on each side (mask and every state output compared), plus the
  streaming contract on the ONNX side (T frames one by one == one T-frame call);
  states are compared relative to their scale (see ``VerificationReport.record``);
- encoder: N in {1, 3} x T = frames of ``min_clip_seconds`` and ``clip_seconds``;
- baked separator: as the separator, torch getting the baked vector as its
  conditioning input.

A failure raises :class:`ExportVerificationError` naming every failing check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from fewshot_sep.export.graphs import N_BINS, input_planes, state_input_names, state_output_names
from fewshot_sep.realtime.sessions import make_session
from fewshot_sep.utils.errors import UserError

TOLERANCE = 1e-4
SEPARATOR_FRAMES = (1, 16)
BATCH_SIZES = (1, 2)


class ExportVerificationError(UserError):
    """An exported graph disagrees with the torch model (or breaks the I/O contract)."""


@dataclass
class VerificationReport:
    """Max abs differences per check, ``{"separator B=2 T=16 call 2 state_3": 1.2e-7, ...}``."""

    tolerance: float = TOLERANCE
    diffs: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def record(self, check: str, reference: np.ndarray, actual: np.ndarray, scaled: bool = False) -> None:
        """Compare two arrays; a shape mismatch or a non-finite value is a failure.

        ``scaled``: the limit is ``tolerance * max(1, max |reference|)`` instead of
        ``tolerance``. Used for the states, which are unbounded intermediate
        activations (values of 20-30 in a trained model) where float32 rounding
        differences between two correct implementations grow with the value; the
        mask (in [0, 1]) and the embeddings (unit norm) always get the plain limit.
        """
        reference = np.asarray(reference)
        actual = np.asarray(actual)
        if reference.shape != actual.shape:
            self.problems.append(f"{check}: shape {actual.shape} != torch {reference.shape}")
            self.diffs[check] = float("inf")
            return
        if not (np.all(np.isfinite(actual)) and np.all(np.isfinite(reference))):
            self.problems.append(f"{check}: non-finite values")
            self.diffs[check] = float("inf")
            return
        if actual.size == 0:
            self.diffs[check] = 0.0
            return
        diff = float(np.max(np.abs(actual.astype(np.float64) - reference.astype(np.float64))))
        limit = self.tolerance
        if scaled:
            limit *= max(1.0, float(np.max(np.abs(reference))))
        self.diffs[check] = diff
        if not diff < limit:
            self.problems.append(f"{check}: max abs diff {diff:.3g} >= {limit:.3g}")

    @property
    def max_diff(self) -> float:
        return max(self.diffs.values(), default=0.0)

    def raise_if_failed(self, what: str) -> None:
        if self.problems:
            shown = "\n  ".join(self.problems[:12])
            more = f"\n  ... and {len(self.problems) - 12} more" if len(self.problems) > 12 else ""
            raise ExportVerificationError(
                f"{what}: the ONNX graph does not match the torch model "
                f"({len(self.problems)} of {len(self.diffs)} checks failed, tolerance {self.tolerance:g}):\n  "
                f"{shown}{more}\nNothing was written. This is a bug in the model or the exporter, not in "
                "your input: report it with the checkpoint and `fewshot-sep --version`."
            )


def _check_names(session, inputs: Sequence[str], outputs: Sequence[str], report: VerificationReport,
                 what: str) -> bool:
    got_in = [i.name for i in session.get_inputs()]
    got_out = [o.name for o in session.get_outputs()]
    ok = True
    if got_in != list(inputs):
        report.problems.append(f"{what}: inputs {got_in} != expected {list(inputs)}")
        ok = False
    if got_out != list(outputs):
        report.problems.append(f"{what}: outputs {got_out} != expected {list(outputs)}")
        ok = False
    return ok


def fixed_magnitude(rng: np.random.Generator, batch: int, frames: int, planes: int = 1) -> np.ndarray:
    """Magnitudes ``[B, P, 513, T]`` spanning the range of real |STFT| values (1e-4 .. ~300);
    a second plane (the other channel) shares the first's levels, 6 dB either way per bin, and
    has bins of silence in both planes and in one."""
    level = 10.0 ** rng.uniform(-3.0, 2.0, size=(batch, 1, N_BINS, 1))
    first = np.abs(rng.standard_normal((batch, 1, N_BINS, frames))) * level
    if planes == 1:
        return first.astype(np.float32)
    other = first * 2.0 ** rng.uniform(-1.0, 1.0, size=(batch, 1, N_BINS, frames))
    # digital silence: some bins zero in both channels, some in one (a pan at the edge)
    silent = rng.random((batch, 1, N_BINS, frames))
    first[silent < 0.05] = 0.0
    other[silent < 0.1] = 0.0
    return np.concatenate([first, other], axis=1).astype(np.float32)


def fixed_conditioning(rng: np.random.Generator, batch: int, embedding_dim: int) -> np.ndarray:
    """``[B, 2E + 1]`` vectors as built at run time: unit-norm means; odd items with negatives."""
    rows = []
    for b in range(batch):
        pos = rng.standard_normal(embedding_dim)
        pos /= np.linalg.norm(pos)
        if b % 2:
            neg = rng.standard_normal(embedding_dim)
            neg /= np.linalg.norm(neg)
            rows.append(np.concatenate([pos, neg, [1.0]]))
        else:
            rows.append(np.concatenate([pos, np.zeros(embedding_dim), [0.0]]))
    return np.asarray(rows, dtype=np.float32)


def _torch_states(separator: torch.nn.Module, batch: int) -> list[np.ndarray]:
    return [s.numpy() for s in separator.initial_states(batch)]


def _run_torch(separator: torch.nn.Module, magnitude: np.ndarray, conditioning: np.ndarray,
               states: Sequence[np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        outs = separator(torch.from_numpy(magnitude), torch.from_numpy(conditioning),
                         *[torch.from_numpy(s) for s in states])
    return [o.numpy() for o in outs]


def verify_separator(separator: torch.nn.Module, path: str | Path, baked_conditioning: np.ndarray | None = None,
                     tolerance: float = TOLERANCE, seed: int = 1234,
                     report: VerificationReport | None = None) -> VerificationReport:
    """Compare ``path`` (a separator or a baked separator graph) with ``separator`` in torch.

    Args:
        separator: the torch separator, in eval mode.
        path: the ONNX file.
        baked_conditioning: ``[D]`` when ``path`` is a baked graph (no conditioning input).
        tolerance: max abs difference allowed for mask and states.

    Returns:
        the report (failures are listed in ``report.problems``; call ``raise_if_failed``).
    """
    report = report or VerificationReport(tolerance=tolerance)
    separator = separator.eval()
    name = Path(path).name
    session = make_session(path)
    n_states = len(separator.state_shapes)
    baked = baked_conditioning is not None
    expected_inputs = ["magnitude"] + ([] if baked else ["conditioning"]) + state_input_names(n_states)
    if not _check_names(session, expected_inputs, ["mask", *state_output_names(n_states)], report, name):
        return report
    embedding_dim = (int(separator.conditioning_dim) - 1) // 2
    planes = input_planes(separator)
    rng = np.random.default_rng(seed)

    def run_onnx(magnitude: np.ndarray, conditioning: np.ndarray, states: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {"magnitude": magnitude, **dict(zip(state_input_names(n_states), states))}
        if not baked:
            feed["conditioning"] = conditioning
        return session.run(None, feed)

    for batch in BATCH_SIZES:
        if baked:
            conditioning = np.repeat(np.asarray(baked_conditioning, np.float32).reshape(1, -1), batch, axis=0)
        else:
            conditioning = fixed_conditioning(rng, batch, embedding_dim)
        for frames in SEPARATOR_FRAMES:
            torch_states = _torch_states(separator, batch)
            onnx_states = list(torch_states)
            for call in (1, 2):
                magnitude = fixed_magnitude(rng, batch, frames, planes)
                ref = _run_torch(separator, magnitude, conditioning, torch_states)
                got = run_onnx(magnitude, conditioning, onnx_states)
                label = f"{name} B={batch} T={frames} call {call}"
                report.record(f"{label} mask", ref[0], got[0])
                for i in range(n_states):
                    report.record(f"{label} state_{i}_out", ref[1 + i], got[1 + i], scaled=True)
                torch_states, onnx_states = ref[1:], got[1:]
        # Streaming contract on the ONNX side: frame by frame == one call.
        frames = max(SEPARATOR_FRAMES)
        magnitude = fixed_magnitude(rng, batch, frames, planes)
        full = run_onnx(magnitude, conditioning, _torch_states(separator, batch))
        states = _torch_states(separator, batch)
        masks = []
        for t in range(frames):
            outs = run_onnx(np.ascontiguousarray(magnitude[..., t:t + 1]), conditioning, states)
            masks.append(outs[0])
            states = outs[1:]
        label = f"{name} B={batch} streamed 1x{frames} vs one call"
        report.record(f"{label} mask", full[0], np.concatenate(masks, axis=-1))
        for i in range(n_states):
            report.record(f"{label} state_{i}_out", full[1 + i], states[i], scaled=True)
    return report


def verify_encoder(encoder: torch.nn.Module, path: str | Path, frame_counts: Sequence[int],
                   tolerance: float = TOLERANCE, seed: int = 4321,
                   report: VerificationReport | None = None) -> VerificationReport:
    """Compare the encoder graph with torch for N in {1, 3} clips of each of ``frame_counts`` frames."""
    report = report or VerificationReport(tolerance=tolerance)
    encoder = encoder.eval()
    name = Path(path).name
    session = make_session(path)
    if not _check_names(session, ["magnitude"], ["embedding"], report, name):
        return report
    rng = np.random.default_rng(seed)
    for n_clips in (1, 3):
        for frames in frame_counts:
            magnitude = fixed_magnitude(rng, n_clips, frames)
            with torch.no_grad():
                ref = encoder(torch.from_numpy(magnitude)).numpy()
            (got,) = session.run(None, {"magnitude": magnitude})
            report.record(f"{name} N={n_clips} T={frames} embedding", ref, got)
    return report
