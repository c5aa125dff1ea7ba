"""Render a multitrack dataset: MIDI works -> FluidSynth -> mono FLAC stems + manifest.csv.

Layout of an output folder::

    plan.json                 render parameters (seed, soundfonts) and the planned works
    stems/<work>/<k>_<instrument>.flac   mono 44.1 kHz 16-bit stems, all stems of a work
                              the same length and starting at the work's time 0
    works/<work>.json         per-work record, written after all its stems: marks the work done
    midi_cache/               music21 corpus works converted to MIDI once
    render_errors.log         works that failed (logged and skipped)
    manifest.csv              one row per stem (see MANIFEST_COLUMNS), rebuilt atomically

Deterministic: a stem's bytes depend only on (seed, work id, part); resumable:
finished works (marker present, files present, same spec) are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fewshot_sep.data.gm import DRUM_OFFSET, bank_preset, family_of, instrument_name, is_drum, note_range, slug
from fewshot_sep.data.manifest import ACTIVITY_HOP, encode_activity, write_manifest
from fewshot_sep.data.notes import Part
from fewshot_sep.data.plan import CORPUS_SHARE, MAX_CORPUS_PARTS, WorkSpec, plan_works
from fewshot_sep.data.soundfonts import SYNTH_SOURCE, parse_soundfonts, soundfont_path
from fewshot_sep.data.split import split_of
from fewshot_sep.data.synth import SAMPLE_RATE, render_notes
from fewshot_sep.utils.atomic import atomic_path, write_json_atomic
from fewshot_sep.utils.errors import UserError

FORMAT_VERSION = 1
CONTENT_VERSION = 1
"""Bump when the generator, planner or renderer change what a given spec renders to:
a folder rendered by another version is refused instead of being silently mixed."""
TAIL_S = 1.5
"""Seconds of release tail after the work's last note-off (same for all its stems)."""
SILENCE_DB = -60.0
PEAK_LIMIT = 0.98


def work_dir_name(work_id: str) -> str:
    """File-system-safe folder name of a work id (``m21:bach/bwv66.6`` -> ``m21_bach_bwv66.6``)."""
    return "".join(ch if (ch.isalnum() or ch in "-._") else "_" for ch in work_id)


def spec_hash(spec: WorkSpec) -> str:
    """Hash of a work spec: a finished work is reused only if its spec is unchanged."""
    return hashlib.sha256(json.dumps(spec.to_json(), sort_keys=True).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- parts


def _corpus_parts(spec: WorkSpec, cache_dir: Path) -> tuple[list[Part], list[int]]:
    """Map corpus parts to the planned instruments by register; returns parts and transpositions."""
    from fewshot_sep.data.corpus import load_corpus_parts

    rng = np.random.default_rng(spec.seed)
    raw = load_corpus_parts(spec.corpus_path, cache_dir, spec.duration_s)
    if len(raw) < 2:
        raise RuntimeError(f"{spec.corpus_path}: {len(raw)} usable part(s), need at least 2")
    if len(raw) > MAX_CORPUS_PARTS:  # keep the busiest parts, in score order
        keep = sorted(np.argsort([-len(r) for r in raw], kind="stable")[:MAX_CORPUS_PARTS])
        raw = [raw[i] for i in keep]
    medians = [float(np.median(r[:, 2])) for r in raw]
    by_pitch = sorted(range(len(raw)), key=lambda i: -medians[i])  # high to low
    uppers = [inst for inst, role in spec.instruments if role == "corpus"]
    bass = next(inst for inst, role in spec.instruments if role == "bass")
    n_upper = len(raw) - 1 if len(raw) >= 3 else len(raw)
    chosen = uppers[:n_upper]
    chosen.sort(key=lambda i: -sum(note_range(i)))  # highest register first
    if len(raw) >= 3:
        chosen.append(bass)
    parts: list[Part] = [None] * len(raw)  # type: ignore[list-item]
    shifts = [0] * len(raw)
    for rank, idx in enumerate(by_pitch):
        inst = chosen[rank]
        lo, hi = note_range(inst)
        shift = 12 * int(round(((lo + hi) / 2 - medians[idx]) / 12))
        notes = raw[idx].copy()
        notes[:, 2] = np.clip(notes[:, 2] + shift, 0, 127)
        notes[:, 3] = np.clip(np.round(notes[:, 3] * rng.uniform(0.65, 1.1)), 1, 127)
        parts[idx] = Part(instrument=inst, role="bass" if (inst == bass and len(raw) >= 3) else "corpus",
                          notes=notes, name=f"part{idx}")
        shifts[idx] = shift
    return parts, shifts


def build_parts(spec: WorkSpec, cache_dir: Path) -> tuple[list[Part], list[int], str]:
    """Notes of every part of `spec`: (parts, octave transpositions in semitones, source text)."""
    if spec.kind == "corpus":
        parts, shifts = _corpus_parts(spec, cache_dir)
        return parts, shifts, f"music21:{spec.corpus_path}"
    from fewshot_sep.data.generator import generate_parts

    rng = np.random.default_rng(spec.seed)
    parts, facts = generate_parts(rng, list(spec.instruments), spec.duration_s)
    source = f"generator:{spec.kind}:seed={spec.seed}:tempo={facts['tempo_bpm']}:meter={facts['beats_per_bar']}"
    return parts, [0] * len(parts), source


# ----------------------------------------------------------------------------- analysis


def analyse_stem(audio: np.ndarray) -> dict[str, Any]:
    """Level statistics of a stem ``[n]`` float32.

    Returns active_ratio (share of 0.1 s frames above ``max(-60 dBFS, loudest
    frame - 35 dB)``), rms_db and peak_db (dBFS), silent (no frame above -60 dBFS
    or < 2 % active) and activity (hex string, one bit per frame, MSB first).
    """
    n_frames = max(1, int(np.ceil(len(audio) / ACTIVITY_HOP)))
    padded = np.zeros(n_frames * ACTIVITY_HOP, np.float64)
    padded[: len(audio)] = audio
    frame_db = 10 * np.log10(np.mean(padded.reshape(n_frames, ACTIVITY_HOP) ** 2, axis=1) + 1e-20)
    top = float(frame_db.max())
    active = frame_db > max(SILENCE_DB, top - 35.0)
    ratio = float(active.mean())
    rms = float(np.sqrt(np.mean(np.asarray(audio, np.float64) ** 2))) if len(audio) else 0.0
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    return {
        "active_ratio": round(ratio, 4),
        "rms_db": round(20 * np.log10(rms + 1e-10), 2),
        "peak_db": round(20 * np.log10(peak + 1e-10), 2),
        "silent": int(top < SILENCE_DB or ratio < 0.02),
        "activity": encode_activity(active),
    }


# ----------------------------------------------------------------------------- one work


def stem_audio(soundfont: Path, instrument: int, notes: np.ndarray, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Render one stem exactly as the dataset stores it.

    Returns (float32 ``[num_samples]`` after peak limiting to `PEAK_LIMIT`,
    int16 ``[num_samples]`` PCM written to the FLAC file).
    """
    bank, preset = bank_preset(instrument)
    return stem_pcm(render_notes(soundfont, bank, preset, notes, num_samples))


def stem_pcm(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak-limit a rendered stem ``[n]`` float32 to `PEAK_LIMIT` (in place) and quantise it:
    returns (the limited float32 audio, its int16 PCM as the FLAC file stores it)."""
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > PEAK_LIMIT:  # keep 16-bit PCM from clipping
        audio *= PEAK_LIMIT / peak
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    return audio, pcm


def write_stem_flac(path: Path, pcm: np.ndarray) -> None:
    """Write int16 PCM ``[n]`` as a mono 44.1 kHz 16-bit FLAC, atomically."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(str(tmp), pcm, SAMPLE_RATE, format="FLAC", subtype="PCM_16")


def manifest_row(path: str, part: Part, soundfont: str, work_id: str, source: str, part_index: int,
                 transpose: int, split: str, audio: np.ndarray) -> dict[str, Any]:
    """The manifest row (`fewshot_sep.data.manifest.MANIFEST_COLUMNS`) of one rendered stem
    ``audio [num_samples]`` float32, stored at `path` (relative to the dataset folder)."""
    drum = is_drum(part.instrument)
    return {
        "path": path, "instrument": part.instrument, "instrument_name": instrument_name(part.instrument),
        "program": -1 if drum else part.instrument, "is_drum": int(drum),
        "kit": part.instrument - DRUM_OFFSET if drum else -1, "family": family_of(part.instrument),
        "soundfont": soundfont, "work_id": work_id, "source": source, "role": part.role,
        "part_index": part_index, "transpose": transpose, "split": split,
        "duration_s": round(len(audio) / SAMPLE_RATE, 4), "num_samples": len(audio),
        **analyse_stem(audio),
    }


def render_work(spec_json: dict, out_dir: str) -> dict:
    """Render all stems of one work (runs in a worker process).

    Returns ``{"work_id", "rows", "seconds"}`` or ``{"work_id", "error"}``;
    never raises, so one bad work cannot stop the pool.
    """
    spec = WorkSpec(**{**spec_json, "instruments": [tuple(x) for x in spec_json["instruments"]]})
    out = Path(out_dir)
    try:
        parts, shifts, source = build_parts(spec, out / "midi_cache")
        end_s = max(p.end_s for p in parts)
        num_samples = int(np.ceil((end_s + TAIL_S) * SAMPLE_RATE))
        synth = spec.soundfont == SYNTH_SOURCE
        sf_path = None if synth else soundfont_path(spec.soundfont)
        folder = work_dir_name(spec.work_id)
        rows = []
        for k, (part, shift) in enumerate(zip(parts, shifts)):
            if synth:  # a random patch per stem, seeded by the work and the part
                from fewshot_sep.data.synth_instruments import render_synth

                audio, pcm = stem_pcm(render_synth(part.instrument, part.notes, num_samples, seed=spec.seed + k))
            else:
                audio, pcm = stem_audio(sf_path, part.instrument, part.notes, num_samples)
            rel = f"stems/{folder}/{k:02d}_{slug(part.instrument)}.flac"
            write_stem_flac(out / rel, pcm)
            rows.append(manifest_row(rel, part, spec.soundfont, spec.work_id, source, k, shift,
                                     split_of(part.instrument, spec.work_id), audio))
        write_work_marker(out, spec, rows)
        return {"work_id": spec.work_id, "rows": rows, "seconds": num_samples / SAMPLE_RATE * len(rows)}
    except Exception as err:  # logged and skipped by the caller
        return {"work_id": spec.work_id, "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc()}


def write_work_marker(out: Path, spec: WorkSpec, rows: list[dict]) -> None:
    """Write ``works/<work>.json`` (spec, its hash and the manifest rows): marks the work done."""
    record = {"format_version": FORMAT_VERSION, "work_id": spec.work_id, "spec_hash": spec_hash(spec),
              "spec": spec.to_json(), "rows": rows}
    write_json_atomic(out / "works" / f"{work_dir_name(spec.work_id)}.json", record, indent=1)


def load_work_spec(out_dir: str | os.PathLike, work_id: str) -> WorkSpec:
    """The spec a finished work was rendered from (from ``works/<work>.json``)."""
    record = json.loads((Path(out_dir) / "works" / f"{work_dir_name(work_id)}.json").read_text())
    d = record["spec"]
    return WorkSpec(**{**d, "instruments": [tuple(x) for x in d["instruments"]]})


def finished_rows(out: Path, spec: WorkSpec) -> list[dict] | None:
    marker = out / "works" / f"{work_dir_name(spec.work_id)}.json"
    if not marker.exists():
        return None
    try:
        record = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("spec_hash") != spec_hash(spec):
        return None
    rows = record["rows"]
    if not all((out / r["path"]).is_file() for r in rows):
        return None
    return rows


# ----------------------------------------------------------------------------- dataset


def render_dataset(
    out_dir: str | os.PathLike,
    hours: float,
    seed: int = 0,
    workers: int = 1,
    soundfonts: str | tuple[str, ...] | None = None,
    use_corpus: bool = True,
    gen_seconds: tuple[float, float] | None = None,
    unseen_share: float | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Render (or finish rendering) a dataset of about `hours` hours of stems into `out_dir`.

    Returns the manifest path. Finished works are skipped; failed works are
    logged to ``render_errors.log`` and left out of the manifest.
    `gen_seconds` overrides the length range of generated works (tests use short ones);
    `unseen_share` the share of hours planned as test pieces with unseen instruments
    (default `plan.UNSEEN_SHARE`; 1.0 renders an evaluation-only set).
    """
    if not (hours > 0):
        raise UserError(f"--hours {hours} is invalid: give a positive number of hours, e.g. --hours 0.05")
    if workers < 1:
        raise UserError(f"--workers {workers} is invalid: use 1 or more")
    names = parse_soundfonts(soundfonts)
    from fewshot_sep.data.gm import ALL_INSTRUMENTS
    from fewshot_sep.data.synth import list_presets

    for name in names:
        if name == SYNTH_SOURCE:
            continue  # plays its own programs; the planner picks only those
        presets = list_presets(soundfont_path(name))
        missing = [i for i in ALL_INSTRUMENTS if bank_preset(i) not in presets]
        if missing:
            raise UserError(f"soundfont {name!r} lacks instruments {missing[:10]}: every GM program and kit is "
                            f"needed; leave it out of --soundfonts")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = log or (lambda msg: print(msg, file=sys.stderr))

    params = {"format_version": FORMAT_VERSION, "content_version": CONTENT_VERSION, "seed": seed, "soundfonts": list(names), "use_corpus": use_corpus}
    if gen_seconds is not None:
        params["gen_seconds"] = [float(gen_seconds[0]), float(gen_seconds[1])]
    plan_options: dict[str, Any] = {"gen_seconds": tuple(gen_seconds)} if gen_seconds else {}
    if unseen_share is not None:
        if not 0.0 <= unseen_share <= 1.0:
            raise UserError(f"--unseen-share {unseen_share} is invalid: use 0..1")
        params["unseen_share"] = float(unseen_share)
        plan_options["unseen_share"] = float(unseen_share)
        plan_options["corpus_share"] = min(CORPUS_SHARE, 1.0 - float(unseen_share))
    plan_file = check_plan_params(out, params, "the same --seed/--soundfonts")
    corpus_paths: list[str] = []
    if use_corpus:
        from fewshot_sep.data.corpus import list_corpus_works

        corpus_paths = list_corpus_works()
    specs = plan_works(seed, hours, names, corpus_paths, **plan_options)
    write_json_atomic(plan_file, {"params": params, "hours": hours, "works": [s.to_json() for s in specs]}, indent=1)

    return render_planned_works(out, specs, render_work, workers, progress, log)


def check_plan_params(out: Path, params: dict[str, Any], same: str) -> Path:
    """``out/plan.json``; raises `UserError` when the folder was planned with other `params`
    (a resumed render must not mix two plans; `same` says which options to repeat)."""
    plan_file = out / "plan.json"
    if plan_file.exists():
        try:
            previous = json.loads(plan_file.read_text())["params"]
        except (OSError, json.JSONDecodeError, KeyError):
            previous = None
        if previous is not None and previous != params:
            raise UserError(f"{out} was rendered with {previous}, not {params}: "
                            f"use another --out folder or {same}")
    return plan_file


def render_planned_works(out: Path, specs: list[WorkSpec], render_fn: Callable[[dict, str], dict], workers: int,
                         progress: bool, log: Callable[[str], None]) -> Path:
    """Render every spec not finished yet with ``render_fn(spec_json, out_dir)`` (in `workers`
    spawned processes), then write ``manifest.csv`` from all finished works in plan order.

    `render_fn` returns ``{"work_id", "rows", "seconds"}`` or ``{"work_id", "error"}``
    and writes the work's marker itself (see `render_work`); failed works are logged to
    ``render_errors.log`` and left out. Returns the manifest path.
    """
    from tqdm import tqdm

    results: dict[str, list[dict]] = {}
    pending: list[WorkSpec] = []
    for spec in specs:
        rows = finished_rows(out, spec)
        if rows is None:
            pending.append(spec)
        else:
            results[spec.work_id] = rows
    est_total = sum(s.est_seconds for s in pending)
    log(f"plan: {len(specs)} works, {len(results)} already done, {len(pending)} to render "
        f"(~{est_total / 3600:.2f} h of stems) with {workers} worker(s)")
    failures: list[str] = []
    started = time.time()
    bar = tqdm(total=round(est_total), unit="s", desc="rendering (s of audio)", disable=not progress,
               dynamic_ncols=True, smoothing=0.05)

    def collect(res: dict) -> None:
        if "error" in res:
            failures.append(res["work_id"])
            with open(out / "render_errors.log", "a", encoding="utf-8") as fh:
                fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {res['work_id']}: {res['error']}\n{res.get('traceback', '')}\n")
            bar.write(f"skipped work {res['work_id']}: {res['error']}")
        else:
            results[res["work_id"]] = res["rows"]
            bar.update(round(res["seconds"]))

    if workers == 1 or len(pending) <= 1:
        for spec in pending:
            collect(render_fn(spec.to_json(), str(out)))
    else:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
        try:
            futures = [pool.submit(render_fn, spec.to_json(), str(out)) for spec in pending]
            for fut in as_completed(futures):
                collect(fut.result())
        except BaseException:  # Ctrl-C: drop queued works; finished ones are kept for resuming
            pool.shutdown(wait=False, cancel_futures=True)
            bar.close()
            raise
        pool.shutdown(wait=True)
    bar.close()

    rows = [row for spec in specs for row in results.get(spec.work_id, [])]
    manifest = out / "manifest.csv"
    write_manifest(manifest, rows)
    elapsed = time.time() - started
    log(f"wrote {manifest}: {len(rows)} stems, {sum(r['duration_s'] for r in rows) / 3600:.2f} h, "
        f"rendered in {elapsed:.0f} s" + (f"; {len(failures)} work(s) failed, see {out / 'render_errors.log'}" if failures else ""))
    return manifest


__all__ = ["render_dataset", "render_work", "render_planned_works", "manifest_row", "stem_pcm", "write_stem_flac", "analyse_stem", "build_parts", "stem_audio", "work_dir_name", "load_work_spec"]
