"""Carry training stems to a remote machine that cannot render them (the lent GPU machine).

The GPU machine has no FluidSynth, no soundfonts and no network, and each call
carries at most 64 MiB, while the train split is about 1 GB of FLAC. So we send
a subset of whole works, Ogg Vorbis-encoded, in parts that fit one call each:

    # here: choose works (every training (instrument, soundfont) pair first), encode, split
    python scripts/device_data.py pack --data data/render --config configs/release-stage7.yaml \\
        --out .devdata --parts 2 --part-mib 46
    # there: decode every part present into a dataset folder the trainer memory-maps
    python scripts/device_data.py unpack .devdata/part-* --config configs/release-stage7.yaml --out data/device

``pack`` orders the train split's works greedily so that each new work adds the
(instrument, soundfont) pairs with the fewest works so far (per megabyte), then
fills the parts in that order. Each part is a folder of ``<row>.ogg`` files and
``rows.json`` (their manifest rows) and can be used on its own.

``unpack`` merges the parts present into ``<out>/manifest.csv`` (the carried rows,
original paths) and writes the int16 stem array where
:meth:`fewshot_sep.data.episodes.MemoryStore.load` looks for its cache, so a run
with ``data.memstore_cache: true`` and ``data.root: <out>`` memory-maps it
instead of reading FLAC files (which are not there).

Vorbis at ``--quality 0.7`` (libsndfile compression level; about 21 MB per hour
of mono stems here) decodes to a median SI-SDR of about 25 dB against the FLAC
stems. Mixtures and targets are built from the decoded stems, so the training
task stays consistent; the coding noise is a mild timbre change, like the EQ
augmentation. Evaluation always uses the FLAC stems.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from fewshot_sep.data.episodes import EpisodeSampler, MemoryStore
from fewshot_sep.data.manifest import SAMPLE_RATE, read_manifest, write_manifest
from fewshot_sep.data.stem_codec import decode_cached, decode_to_cache, encode_vorbis
from fewshot_sep.runs.config import load_config
from fewshot_sep.train.loop import train_episode_config
from fewshot_sep.utils.atomic import atomic_path, write_text_atomic


ROWS_NAME = "rows.json"


# ----------------------------------------------------------------------------- pack


def order_works(rows: list[dict], needed: np.ndarray) -> list[tuple[str, list[int], int]]:
    """Works holding needed stems as ``(work_id, needed row indices, FLAC bytes)``, in greedy
    coverage order: each next work maximises the sum over its stems of ``1 / (1 + works so far
    with that stem's (instrument, soundfont))`` per MB (ties: work id). Each row has its
    FLAC file's path under ``"file"``."""
    by_work: dict[str, list[int]] = {}
    for i in np.flatnonzero(needed):
        by_work.setdefault(rows[int(i)]["work_id"], []).append(int(i))
    sizes = {w: sum(os.path.getsize(rows[i]["file"]) for i in idx) for w, idx in by_work.items()}
    pair_works: Counter = Counter()
    order = []
    remaining = sorted(by_work)
    while remaining:
        def score(work: str) -> float:
            pairs = {(rows[i]["instrument"], rows[i]["soundfont"]) for i in by_work[work]}
            return sum(1.0 / (1 + pair_works[p]) for p in pairs) / (1.0 + sizes[work] / 1e6)

        best = max(remaining, key=lambda w: (score(w), w))
        remaining.remove(best)
        order.append((best, by_work[best], sizes[best]))
        for p in {(rows[i]["instrument"], rows[i]["soundfont"]) for i in by_work[best]}:
            pair_works[p] += 1
    return order


def row_key(dataset: int, index: int) -> str:
    """A carried stem's name: ``<dataset>-<manifest row>`` (dataset = position of its --data)."""
    return f"{dataset}-{index}"


def _key_order(key: str | int) -> tuple[int, int]:
    """Sort key of a row key; a bare integer (parts packed from one dataset before keys had a
    dataset prefix) is dataset 0."""
    if isinstance(key, int):
        return 0, key
    dataset, index = key.split("-")
    return int(dataset), int(index)


def gather_rows(roots: list[Path], config: dict) -> tuple[list[dict], np.ndarray]:
    """The manifest rows of every dataset in ``roots`` (each with ``"key"`` and ``"file"``) and
    the mask of the stems the run config's train sampler reads. Work ids must not repeat
    across datasets (two renders of one corpus work would mix in "coherent" mixtures)."""
    rows: list[dict] = []
    needed: list[np.ndarray] = []
    owner: dict[str, Path] = {}
    for d, root in enumerate(roots):
        manifest = read_manifest(root)
        for work in sorted({r["work_id"] for r in manifest}):
            if owner.setdefault(work, root) != root:
                raise SystemExit(f"work id {work!r} is in both {owner[work]} and {root}: datasets packed "
                                 "together need distinct works (render the extra ones with another --seed "
                                 "and --no-corpus)")
        sampler = EpisodeSampler(root, train_episode_config(config), seed=int(config["seed"]))
        needed.append(sampler.needed_stems())
        rows += [{**r, "key": row_key(d, i), "file": str(root / r["path"])} for i, r in enumerate(manifest)]
    return rows, np.concatenate(needed)


def pack(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    rows, needed = gather_rows([Path(d) for d in args.data or ["data/render"]], config)
    order = order_works(rows, needed)
    budget = int(args.part_mib * 2 ** 20)
    parts: list[dict] = [{"size": 0, "rows": []} for _ in range(args.parts)]
    out = Path(args.out)
    dirs = [out / f"part-{chr(ord('a') + p)}" for p in range(args.parts)]
    for old in out.glob("part-*"):  # also parts of an earlier run with more --parts
        shutil.rmtree(old)
    for d in dirs:
        d.mkdir(parents=True)
    misses = 0
    # spawn, not fork: this process has imported torch, whose threads can deadlock forked children;
    # an executor (not Pool) fails at once when a worker dies instead of waiting for it forever.
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for work, idx, _ in order:
            paths = [rows[i]["file"] for i in idx]
            blobs = list(pool.map(encode_vorbis, paths, [args.quality] * len(paths)))
            size = sum(len(b) for b in blobs)
            target = min(range(args.parts), key=lambda p: parts[p]["size"])
            if parts[target]["size"] + size > budget:
                misses += 1
                if misses >= 20:  # 20 works in a row did not fit: every part is (nearly) full
                    break
                continue
            misses = 0
            for i, blob in zip(idx, blobs):
                (dirs[target] / f"{rows[i]['key']}.ogg").write_bytes(blob)
            parts[target]["size"] += size
            parts[target]["rows"] += idx
            print(f"part {target}: + {work} ({len(idx)} stems, {size / 1e6:.1f} MB) -> "
                  f"{parts[target]['size'] / 2 ** 20:.1f} MiB", flush=True)
    total_s = 0.0
    for d, part in zip(dirs, parts):
        part_rows = [{**{k: v for k, v in rows[i].items() if k not in ("key", "file")}, "row": rows[i]["key"]}
                     for i in sorted(part["rows"])]
        write_text_atomic(d / ROWS_NAME, json.dumps(part_rows))
        seconds = sum(r["num_samples"] for r in part_rows) / SAMPLE_RATE
        total_s += seconds
        works = len({r["work_id"] for r in part_rows})
        print(f"{d}: {works} works, {len(part_rows)} stems, {seconds / 3600:.2f} h, "
              f"{part['size'] / 2 ** 20:.1f} MiB")
    all_seconds = sum(rows[i]["num_samples"] for i in np.flatnonzero(needed)) / SAMPLE_RATE
    print(f"packed {total_s / 3600:.2f} h of the {all_seconds / 3600:.2f} h of stems the train split uses")
    return 0


# ----------------------------------------------------------------------------- unpack


def unpack(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    merged: dict[str | int, tuple[dict, Path]] = {}
    for part in args.parts:
        part = Path(part)
        if not (part / ROWS_NAME).is_file():
            print(f"{part}: no {ROWS_NAME}, skipped", file=sys.stderr)
            continue
        for row in json.loads((part / ROWS_NAME).read_text(encoding="utf-8")):
            key = row.pop("row")  # the file name: "<dataset>-<row in its manifest>"
            merged[key] = (row, part / f"{key}.ogg")
    if not merged:
        print("no parts to unpack", file=sys.stderr)
        return 2
    out = Path(args.out)
    decoded = out / "decoded"
    decoded.mkdir(parents=True, exist_ok=True)
    keys = sorted(merged, key=_key_order)

    def job(key: str | int) -> tuple[str, int, str]:
        return str(merged[key][1]), int(merged[key][0]["num_samples"]), str(decoded / f"{key}.npy")

    spawn = multiprocessing.get_context("spawn")
    if args.decode_only:  # fill the cache with every carried stem; no manifest, no array yet
        jobs = [job(k) for k in keys]
        with ProcessPoolExecutor(args.workers, mp_context=spawn) as pool:
            done = sum(pool.map(decode_to_cache, *zip(*jobs), chunksize=4))
        print(f"{decoded}: {done} of {len(jobs)} stems decoded now, the rest were there")
        return 0
    write_manifest(out / "manifest.csv", [merged[k][0] for k in keys])
    rows = read_manifest(out)  # typed as the trainer reads them (the cache key depends on it)
    sampler = EpisodeSampler(out, train_episode_config(config), seed=int(config["seed"]))
    wanted = sampler.needed_stems()
    jobs = [job(k) for k, w in zip(keys, wanted) if w]
    with ProcessPoolExecutor(args.workers, mp_context=spawn) as pool:
        stems = list(pool.map(decode_cached, *zip(*jobs), chunksize=4)) if jobs else []
    audio = np.concatenate(stems) if stems else np.zeros(0, np.int16)
    cache = MemoryStore.cache_path(out, rows, wanted)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache) as tmp:
        np.save(tmp, audio, allow_pickle=False)
    hours = len(audio) / SAMPLE_RATE / 3600
    print(f"{out}: {len({r['work_id'] for r in rows})} works, {len(jobs)} of {len(rows)} stems used, "
          f"{hours:.2f} h, {len(sampler.pairs)} (instrument, soundfont) targets -> {cache}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="encode a subset of the train split's works into parts")
    p.add_argument("--data", action="append",
                   help="rendered dataset folder; repeat to pack several (their works must differ; "
                        "default data/render)")
    p.add_argument("--config", required=True, help="the run config the parts are for (its train sampler)")
    p.add_argument("--out", default=".devdata", help="folder for the parts (default .devdata)")
    p.add_argument("--parts", type=int, default=2, help="number of parts (default 2)")
    p.add_argument("--part-mib", type=float, default=46.0, help="size limit of one part in MiB (default 46)")
    p.add_argument("--quality", type=float, default=0.7,
                   help="Vorbis compression level, 0 (best) .. 1 (smallest); default 0.7")
    p.add_argument("--workers", type=int, default=2, help="encoder processes (default 2)")
    p.set_defaults(func=pack)
    u = sub.add_parser("unpack", help="decode the parts present into a dataset folder")
    u.add_argument("parts", nargs="+", help="part folders (.devdata/part-*)")
    u.add_argument("--config", required=True, help="the run config (its train sampler decides the stems used)")
    u.add_argument("--out", default="data/device", help="dataset folder to write (default data/device)")
    u.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoder processes")
    u.add_argument("--decode-only", action="store_true",
                   help="decode every stem of the parts present into <out>/decoded and stop, writing no "
                        "manifest or stem array (a call that only carries a part does this; the last "
                        "unpack then reads those stems from the cache)")
    u.set_defaults(func=unpack)
    args = parser.parse_args(argv)
    for name in ("parts", "workers"):
        value = getattr(args, name, None)
        if isinstance(value, int) and value < 1:
            parser.error(f"--{name} {value} is invalid: use 1 or more")
    if getattr(args, "part_mib", 1.0) <= 0 or not 0.0 <= getattr(args, "quality", 0.5) <= 1.0:
        parser.error("--part-mib must be > 0 and --quality in [0, 1]")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
