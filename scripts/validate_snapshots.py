"""Validate checkpoints (few-shot or one-hot; e.g. the snapshots of a run trained elsewhere) on the fixed
validation episodes of a run config, as the trainer would have: median SI-SDR improvement.

    python scripts/validate_snapshots.py runs/release8/snapshot-*.pt models/release/checkpoint.pt
    python scripts/validate_snapshots.py --config configs/release-stage4.yaml runs/release7/*.pt

The episodes are those of the config's ``val`` section (default: configs/release-stage4.yaml:
128 episodes of the val split, 3 s mixtures, 2-4 interferers, k = 5) on ``--data`` (default
data/render), so the figures compare with the ``val_sisdri_median`` column of earlier runs'
logs. Each checkpoint needs the config.json of its run beside it. Prints a Markdown table;
``--best-to DIR`` also publishes the best one there (weights without optimiser state, its
median as ``best_val``, and the run's config.json) like ``fewshot-sep train --publish``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path, help=".pt files with config.json beside them")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "release-stage4.yaml",
                        help="run config whose val section defines the episodes")
    parser.add_argument("--data", type=Path, default=Path("data/render"), help="rendered dataset (val split)")
    parser.add_argument("--episodes", type=int, default=None, help="override val.episodes")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--best-to", type=Path, default=None, metavar="DIR",
                        help="publish the best checkpoint to DIR (checkpoint.pt without optimiser, config.json)")
    args = parser.parse_args(argv)

    import torch

    from fewshot_sep.runs.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint, save_config
    from fewshot_sep.runs.config import load_config
    from fewshot_sep.train.loop import build_sources, class_rows_of, evaluate, validation_batches

    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    config["data"]["root"] = str(args.data)
    config["data"]["in_memory"] = False  # only the val episodes are read
    config["data"]["memstore_cache"] = False
    if args.episodes is not None:
        config["val"]["episodes"] = args.episodes
    n_val, vb = int(config["val"]["episodes"]), int(config["val"]["batch_size"])
    if n_val < 1:
        parser.error(f"val.episodes is {n_val}: give --episodes N (N >= 1)")
    _, val_src = build_sources(config, progress=False)
    start = time.monotonic()
    batches = validation_batches(val_src, n_val, vb, torch.device("cpu"))
    print(f"{n_val} validation episodes of {args.data} ({args.config.name}) in {time.monotonic() - start:.0f} s",
          file=sys.stderr)
    results = []
    print("| checkpoint | step | val SI-SDRi median (dB) | mean (dB) |")
    print("|---|---:|---:|---:|")
    for path in args.checkpoints:
        model, model_config = load_checkpoint(path)
        class_index = class_rows_of(model_config["model"])
        if model.conditioning_mode == "onehot" and class_index is None:
            parser.error(f"{path}: a one-hot checkpoint needs model.classes in the config.json beside it")
        scores = evaluate(model, batches, class_index)
        step = read_checkpoint(path).get("step", "")
        results.append((float(np.median(scores)), path))
        print(f"| {path} | {step} | {np.median(scores):+.3f} | {np.mean(scores):+.3f} |", flush=True)
    best, best_path = max(results)
    print(f"best: {best_path} ({best:+.3f} dB)", file=sys.stderr)
    if args.best_to is not None:
        import json

        payload = {k: v for k, v in read_checkpoint(best_path).items() if k != "optimizer"}
        payload["source"] = best_path.name
        payload["best_val"] = best
        args.best_to.mkdir(parents=True, exist_ok=True)
        save_checkpoint(args.best_to / "checkpoint.pt", payload)
        save_config(args.best_to, json.loads((best_path.parent / "config.json").read_text(encoding="utf-8")))
        print(f"published {best_path} -> {args.best_to}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
