"""`fewshot-sep validate-checkpoints`: score checkpoints on a run config's validation episodes.

Prints a Markdown table (checkpoint, step, median and mean SI-SDR improvement in dB)
row by row; ``--best-to DIR`` publishes the best one there. Needs the ``train`` extra;
torch is imported inside ``run``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `validate-checkpoints` command."""
    p = subparsers.add_parser(
        "validate-checkpoints",
        help="score checkpoints (e.g. a run's snapshots) on a run config's validation episodes",
        description="Score checkpoints (few-shot or one-hot; e.g. the snapshots of a run trained on a lent GPU "
        "without validation) on the fixed validation episodes of a run config, as the trainer would: median "
        "SI-SDR improvement, comparable with the val_sisdri_median column of run logs. Each checkpoint needs "
        "its run's config.json beside it. See docs/development.md.",
    )
    p.add_argument("checkpoints", nargs="+", type=Path, help=".pt files with their run's config.json beside them")
    p.add_argument("--config", type=Path, default=Path("configs/release-stage4.yaml"),
                   help="run config whose val section defines the episodes (default: configs/release-stage4.yaml: "
                   "128 episodes of the val split, 3 s mixtures, 2-4 interferers, k = 5)")
    p.add_argument("--data", type=Path, default=Path("data/render"), help="rendered dataset (its val split)")
    p.add_argument("--episodes", type=int, default=None, help="override the config's val.episodes")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    p.add_argument("--best-to", type=Path, default=None, metavar="DIR",
                   help="publish the best checkpoint to DIR (checkpoint.pt without optimiser state, config.json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from fewshot_sep.train.snapshots import publish_checkpoint, validate_checkpoints

    torch.set_num_threads(max(1, args.threads))
    print("| checkpoint | step | val SI-SDRi median (dB) | mean (dB) |")
    print("|---|---:|---:|---:|", flush=True)
    scores = validate_checkpoints(
        args.checkpoints, args.config, args.data, args.episodes,
        on_score=lambda s: print(f"| {s.path} | {s.step} | {s.median_db:+.3f} | {s.mean_db:+.3f} |", flush=True),
        on_note=lambda line: print(line, file=sys.stderr))
    best = max(scores, key=lambda s: s.median_db)
    print(f"best: {best.path} ({best.median_db:+.3f} dB)", file=sys.stderr)
    if args.best_to is not None:
        publish_checkpoint(best, args.best_to)
        print(f"published {best.path} -> {args.best_to}", file=sys.stderr)
    return 0
