"""`fewshot-sep train CONFIG`: episodic training of the separator (torch, imported lazily)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train the few-shot separator (or the one-hot baseline) from a YAML config",
        description="Episodic training from a YAML config (configs/release.yaml, configs/onehot-stage8.yaml, "
                    "configs/smoke.yaml). Writes config.json, checkpoint.pt, best.pt and log.csv into the "
                    "run folder; --resume continues from its checkpoint.pt.")
    parser.add_argument("config", type=Path, help="YAML run config")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="run folder (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir from checkpoint.pt")
    parser.add_argument("--data-root", type=Path, default=None, help="override data.root (rendered dataset folder)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many more steps")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: train.threads)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", dest="overrides",
                        help="override one config value (YAML value; repeatable), e.g. --set model.lookahead_frames=4")
    parser.add_argument("--publish", type=Path, default=None, metavar="DIR",
                        help="do not train: copy the run's best model (weights, config.json, log.csv; no "
                             "optimiser state) to DIR, e.g. models/release")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fewshot_sep.utils.errors import UserError

    from fewshot_sep.runs.config import load_config
    from fewshot_sep.train.loop import train

    run_dir = args.run_dir
    if args.publish is not None:
        from fewshot_sep.runs.checkpoint import publish_checkpoint

        if run_dir is None:
            raise UserError("--publish needs --run-dir (the training run to copy from)")
        path = publish_checkpoint(run_dir, args.publish)
        print(f"published {path} ({path.stat().st_size / 1e6:.1f} MB) with config.json and log.csv")
        return 0
    config = load_config(args.config, args.overrides)
    if args.data_root is not None:
        config["data"]["root"] = str(args.data_root)
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads {args.threads} is invalid: use 1 or more")
        config["train"]["threads"] = args.threads
    if args.max_steps is not None and args.max_steps < 1:
        raise UserError(f"--max-steps {args.max_steps} is invalid: use 1 or more")
    run_dir = run_dir or Path("runs") / str(config["name"])
    summary = train(config, run_dir, resume=args.resume, max_steps=args.max_steps,
                    max_minutes=args.max_minutes, progress=not args.no_progress)
    state = "interrupted" if summary["interrupted"] else "stopped"
    print(f"{state} at step {summary['step']} ({summary['episodes']} episodes); best validation "
          f"SI-SDRi {summary['best_val_sisdri']:.2f} dB; checkpoint in {summary['run_dir']}")
    return 0
