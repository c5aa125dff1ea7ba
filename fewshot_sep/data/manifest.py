"""The dataset manifest (``manifest.csv``): columns, reading, writing, validation, summary.

One row per rendered stem. Columns:

| column | meaning |
|---|---|
| path | FLAC path relative to the dataset folder (mono, 44.1 kHz, 16-bit) |
| instrument | label: GM program 0..127, or 128 + drum-kit preset (see `fewshot_sep.data.gm`) |
| instrument_name | e.g. ``Violin``, ``Drum Kit: TR-808`` |
| program | GM program, -1 for drum kits |
| is_drum | 1 for drum kits |
| kit | bank-128 preset of a kit, -1 for melodic |
| family | GM family name, ``Drum Kit`` for kits |
| soundfont | short soundfont name (``fluidr3``, ``timgm6mb``, ``csound``) |
| work_id | piece id; all stems of a work share time 0 and length |
| source | ``music21:<corpus path>`` or ``generator:<kind>:seed=..:tempo=..`` |
| role | generator role (bass, comp, melody, arp, drums) or ``corpus`` |
| part_index | index of the stem in its work (file prefix) |
| transpose | semitones the part was moved (octaves, corpus parts only) |
| split | ``train`` / ``val`` / ``test`` / ``test_unseen`` (`fewshot_sep.data.split`) |
| duration_s, num_samples | stem length |
| active_ratio | share of 0.1 s frames that are active |
| rms_db, peak_db | level of the whole stem, dBFS |
| silent | 1 if the stem is (near) silent: samplers skip it |
| activity | hex bitmask, one bit per 0.1 s frame (``ACTIVITY_HOP`` samples), MSB first |
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from fewshot_sep.contract.signal import SAMPLE_RATE
from fewshot_sep.data.gm import ALL_INSTRUMENTS, DRUM_OFFSET, family_of, instrument_name, is_drum
from fewshot_sep.data.split import SPLITS, instrument_status, split_of
from fewshot_sep.utils.atomic import write_text_atomic
from fewshot_sep.utils.errors import UserError

ACTIVITY_HOP_S = 0.1
"""Resolution of the `activity` column: one bit per 0.1 s frame."""
ACTIVITY_HOP = int(round(ACTIVITY_HOP_S * SAMPLE_RATE))

MANIFEST_COLUMNS = (
    "path", "instrument", "instrument_name", "program", "is_drum", "kit", "family", "soundfont",
    "work_id", "source", "role", "part_index", "transpose", "split", "duration_s", "num_samples",
    "active_ratio", "rms_db", "peak_db", "silent", "activity",
)
_INT_COLUMNS = ("instrument", "program", "is_drum", "kit", "part_index", "transpose", "num_samples", "silent")
_FLOAT_COLUMNS = ("duration_s", "active_ratio", "rms_db", "peak_db")


def music_stream(source: str) -> str:
    """Music stream of a manifest ``source`` value: the text before its first ``:`` (e.g.
    ``generator``, ``music21``, and in the robust set ``texture`` or ``music21-heldout``)."""
    return source.split(":", 1)[0]


def encode_activity(active: np.ndarray) -> str:
    """Hex string of a boolean frame array (bits MSB first; ``ceil(n/4)`` hex digits)."""
    bits = np.asarray(active, bool)
    pad = (-len(bits)) % 8
    packed = np.packbits(np.concatenate([bits, np.zeros(pad, bool)]))
    return packed.tobytes().hex()[: (len(bits) + 3) // 4]


def decode_activity(text: str, n_frames: int) -> np.ndarray:
    """Inverse of `encode_activity`: boolean ``[n_frames]``."""
    if len(text) % 2:
        text += "0"
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), np.uint8)).astype(bool)
    out = np.zeros(n_frames, bool)
    out[: min(n_frames, len(bits))] = bits[:n_frames]
    return out


def n_activity_frames(num_samples: int) -> int:
    """Number of activity frames of a stem of `num_samples` samples."""
    return max(1, -(-num_samples // ACTIVITY_HOP))


def write_manifest(path: str | os.PathLike, rows: list[dict]) -> None:
    """Write manifest rows (dicts with at least `MANIFEST_COLUMNS`) to CSV atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row[k] for k in MANIFEST_COLUMNS})
    write_text_atomic(path, buf.getvalue())


def manifest_path(path: str | os.PathLike) -> Path:
    """``DIR/manifest.csv`` for a folder, else the path itself."""
    path = Path(path)
    return path / "manifest.csv" if path.is_dir() else path


def read_manifest(path: str | os.PathLike) -> list[dict]:
    """Rows of a manifest CSV (or of ``DIR/manifest.csv``), numeric columns typed.

    Raises `UserError` if the file is missing or lacks columns.
    """
    path = manifest_path(path)
    if not path.is_file():
        raise UserError(f"manifest {path} not found: render a dataset with `fewshot-sep data render --out DIR`")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"manifest {path} lacks columns {sorted(missing)}: re-render it with this version")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                for k in _INT_COLUMNS:
                    row[k] = int(row[k])
                for k in _FLOAT_COLUMNS:
                    row[k] = float(row[k])
            except ValueError as err:
                raise UserError(f"manifest {path} line {line}: {err}: re-render the dataset") from err
            rows.append(row)
    return rows


def validate_manifest(folder: str | os.PathLike, check_audio: bool = True) -> list[str]:
    """Check a rendered dataset; returns a list of problems (empty = valid).

    Checks: columns and types, labels consistent with each other (program /
    kit / family / name), split equals `split_of(instrument, work_id)`, no
    excluded instrument, unique paths, one instrument at most once per work,
    all stems of a work the same length, activity bitmask length; with
    `check_audio`, every FLAC exists, is mono 44.1 kHz and has `num_samples` frames.
    """
    import soundfile as sf

    folder = Path(folder)
    problems: list[str] = []
    try:
        rows = read_manifest(folder)
    except UserError as err:
        return [str(err)]
    if not rows:
        return [f"{manifest_path(folder)} has no rows"]
    seen_paths: set[str] = set()
    per_work: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        where = r["path"]
        inst = r["instrument"]
        if inst not in ALL_INSTRUMENTS:
            problems.append(f"{where}: unknown instrument {inst}")
            continue
        drum = is_drum(inst)
        if r["is_drum"] != int(drum) or r["program"] != (-1 if drum else inst) or r["kit"] != (inst - DRUM_OFFSET if drum else -1):
            problems.append(f"{where}: program/kit/is_drum do not match instrument {inst}")
        if r["family"] != family_of(inst) or r["instrument_name"] != instrument_name(inst):
            problems.append(f"{where}: family/name do not match instrument {inst}")
        if instrument_status(inst) == "excluded":
            problems.append(f"{where}: excluded instrument {inst}")
        if r["split"] not in SPLITS or r["split"] != split_of(inst, r["work_id"]):
            problems.append(f"{where}: split {r['split']!r} != {split_of(inst, r['work_id'])!r}")
        if where in seen_paths:
            problems.append(f"{where}: duplicate path")
        seen_paths.add(where)
        if abs(r["duration_s"] - r["num_samples"] / SAMPLE_RATE) > 1e-3:
            problems.append(f"{where}: duration_s does not match num_samples")
        if not 0.0 <= r["active_ratio"] <= 1.0 or r["silent"] not in (0, 1):
            problems.append(f"{where}: active_ratio/silent out of range")
        if len(r["activity"]) != (n_activity_frames(r["num_samples"]) + 3) // 4:
            problems.append(f"{where}: activity mask has {len(r['activity'])} hex digits")
        per_work[r["work_id"]].append(r)
        if check_audio:
            f = folder / where
            if not f.is_file():
                problems.append(f"{where}: file missing")
                continue
            info = sf.info(str(f))
            if info.channels != 1 or info.samplerate != SAMPLE_RATE or info.frames != r["num_samples"]:
                problems.append(f"{where}: {info.channels} ch, {info.samplerate} Hz, {info.frames} frames; "
                                f"expected mono {SAMPLE_RATE} Hz {r['num_samples']} frames")
    for work, stems in per_work.items():
        if len({s["num_samples"] for s in stems}) != 1:
            problems.append(f"work {work}: stems differ in length")
        insts = [s["instrument"] for s in stems]
        if len(set(insts)) != len(insts):
            problems.append(f"work {work}: an instrument appears twice")
        if len({s["soundfont"] for s in stems}) != 1:
            problems.append(f"work {work}: stems use different soundfonts")
    return problems


def summarize(rows: list[dict]) -> str:
    """Plain-text summary: hours per split / family / soundfont, instrument coverage."""
    def hours(select) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for r in rows:
            if not r["silent"]:
                out[select(r)] += r["duration_s"] / 3600.0
        return dict(sorted(out.items()))

    lines = []
    total = sum(r["duration_s"] for r in rows) / 3600.0
    n_silent = sum(r["silent"] for r in rows)
    lines.append(f"{len(rows)} stems in {len({r['work_id'] for r in rows})} works, {total:.2f} h "
                 f"({n_silent} silent stems excluded below)")
    for title, key in (("split", lambda r: r["split"]), ("soundfont", lambda r: r["soundfont"]),
                       ("family", lambda r: r["family"]), ("source", lambda r: r["source"].split(":")[0] + ":" + r["source"].split(":")[1].split("/")[0])):
        table = hours(key)
        lines.append(f"hours per {title}: " + ", ".join(f"{k} {v:.2f}" for k, v in table.items()))
    coverage: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        if not r["silent"]:
            coverage[r["split"]][r["instrument"]] += r["duration_s"] / 60.0
    for status, splits in (("seen", ("train", "val", "test")), ("unseen", ("test_unseen",))):
        wanted = [i for i in ALL_INSTRUMENTS if instrument_status(i) == status]
        for split in splits:
            minutes = [coverage[split].get(i, 0.0) for i in wanted]
            missing = [i for i, m in zip(wanted, minutes) if m == 0.0]
            lines.append(f"{split}: {len(wanted) - len(missing)}/{len(wanted)} {status} instruments present, "
                         f"minutes per instrument min {min(minutes):.1f} median {float(np.median(minutes)):.1f} max {max(minutes):.1f}"
                         + (f"; missing {len(missing)}: {missing[:12]}{' ...' if len(missing) > 12 else ''}" if missing else ""))
    return "\n".join(lines)
