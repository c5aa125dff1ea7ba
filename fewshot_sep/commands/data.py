"""`fewshot-sep data`: render the multitrack training set and the robust test set, summarise and validate them."""

from __future__ import annotations

import argparse

from fewshot_sep.utils.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `data render`, `data render-robust`, `data summary` and `data validate`."""
    parser = subparsers.add_parser("data", help="render and inspect the synthetic multitrack dataset")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")

    render = sub.add_parser("render", help="render MIDI works to FLAC stems through FluidSynth + manifest.csv")
    render.add_argument("--out", required=True, help="output folder (re-running resumes it)")
    render.add_argument("--hours", type=float, default=0.05, help="total hours of stems to render (default 0.05)")
    render.add_argument("--seed", type=int, default=0, help="random seed: same seed, same bytes (default 0)")
    render.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    render.add_argument("--soundfonts", default="fluidr3,timgm6mb",
                        help="comma-separated training soundfonts: fluidr3, timgm6mb, csound (default fluidr3,timgm6mb)")
    render.add_argument("--no-corpus", action="store_true", help="only generated works (skip music21's corpus)")
    render.add_argument("--unseen-share", type=float, default=None,
                        help="share of hours in test pieces with unseen instruments (default 0.12; "
                             "1 = an evaluation-only set)")
    render.add_argument("--quiet", action="store_true", help="no progress bar")
    render.set_defaults(func=run)

    robust = sub.add_parser("render-robust",
                            help="render the robustness suite's test set (test-only music, training and held-out sources)")
    robust.add_argument("--out", default="data/robust", help="output folder (default data/robust; re-running resumes it)")
    robust.add_argument("--seed", type=int, default=0, help="random seed: same seed, same bytes (default 0)")
    robust.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    robust.add_argument("--works", type=int, nargs=3, metavar=("GEN", "TEXTURE", "CORPUS"), default=None,
                        help="works per music stream: the training generator's style, the test-only texture "
                             "generator, held-out composers of music21's corpus (default 20 24 16)")
    robust.add_argument("--quiet", action="store_true", help="no progress bar")
    robust.set_defaults(func=run)

    summary = sub.add_parser("summary", help="hours per split/family/soundfont and instrument coverage")
    summary.add_argument("dir", help="dataset folder (with manifest.csv)")
    summary.set_defaults(func=run)

    validate = sub.add_parser("validate", help="check a dataset's manifest and audio files")
    validate.add_argument("dir", help="dataset folder (with manifest.csv)")
    validate.add_argument("--no-audio", action="store_true", help="skip opening every FLAC")
    validate.set_defaults(func=run)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    """Dispatch `data` actions; returns the exit code."""
    if args.data_command == "render":
        from fewshot_sep.data.manifest import read_manifest, summarize
        from fewshot_sep.data.render import render_dataset

        manifest = render_dataset(args.out, hours=args.hours, seed=args.seed, workers=args.workers,
                                  soundfonts=args.soundfonts, use_corpus=not args.no_corpus,
                                  unseen_share=args.unseen_share, progress=not args.quiet)
        print(summarize(read_manifest(manifest)))
        return 0
    if args.data_command == "render-robust":
        from fewshot_sep.data.manifest import read_manifest, summarize
        from fewshot_sep.data.robust_set import MUSIC_STREAMS, render_robust_set

        counts = dict(zip(MUSIC_STREAMS, args.works)) if args.works else None
        manifest = render_robust_set(args.out, seed=args.seed, workers=args.workers, counts=counts,
                                     progress=not args.quiet)
        print(summarize(read_manifest(manifest)))
        return 0
    if args.data_command == "summary":
        from fewshot_sep.data.manifest import read_manifest, summarize

        print(summarize(read_manifest(args.dir)))
        return 0
    if args.data_command == "validate":
        from fewshot_sep.data.manifest import validate_manifest

        problems = validate_manifest(args.dir, check_audio=not args.no_audio)
        for p in problems:
            print(p)
        if problems:
            raise UserError(f"{args.dir}: {len(problems)} problem(s) in the dataset (listed above)")
        print(f"{args.dir}: manifest and audio valid")
        return 0
    raise UserError("missing action: use `fewshot-sep data render|render-robust|summary|validate`")
