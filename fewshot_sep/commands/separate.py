"""`fewshot-sep separate`: isolate or remove an instrument from audio files.

    fewshot-sep separate IN.wav --preset P --output OUT.wav [--mode isolate|remove] [--mix M]
    fewshot-sep separate a.wav b.flac songs/ --preset P --output out_folder/
    fewshot-sep separate IN.wav --chain CHAIN.json [--preset P] --output OUT.wav
    fewshot-sep separate IN.wav --stems --preset bass.json --preset builtin:drums --output stems/
    fewshot-sep separate catalog/ --preset P --output out/ --workers 4 --resume
    fewshot-sep separate catalog/ --preset P --output /shared/out/ --scheduler tcp://10.0.0.5:8786 --resume

The options become a job (fewshot_sep.plugin_host.batch_plan) that runs here or on
Dask (fewshot_sep.plugin_host.distributed_batch), one file at a time through the
same per-file code.

No torch is imported here (producer command).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "separate",
        help="isolate or remove an instrument from audio files (offline)",
        description="Isolate (or remove) the instrument of a preset from audio files. Any common format "
        "and sample rate; the output keeps the input's sample rate and channels, its format follows "
        "the output extension. Long files are streamed in chunks (bounded memory).",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files and/or folders of audio files")
    parser.add_argument(
        "--preset",
        "-p",
        action="append",
        default=[],
        metavar="PRESET",
        help="builtin:NAME, a preset name from your library, or a preset .json file "
        "(repeat with --stems for several instruments)",
    )
    parser.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="OUT",
        help="output file (one input), or output folder (several inputs, a folder, or --stems)",
    )
    parser.add_argument("--mode", choices=("isolate", "remove"), default=None,
                        help="isolate = keep the instrument, remove = keep everything else (default: the preset's)")
    parser.add_argument("--mix", type=float, default=None, metavar="M",
                        help="wet/dry from 0 (input) to 1 (fully separated) (default: the preset's, usually 1)")
    parser.add_argument("--chain", metavar="CHAIN.json", default=None,
                        help="run a saved chain of pedalboard effects and separators instead of one separator")
    parser.add_argument("--stems", action="store_true",
                        help="write one file per --preset plus 'residual' (input minus the isolated stems)")
    parser.add_argument("--format", default=None, metavar="EXT",
                        help="output format when --output is a folder: wav, flac, ogg, mp3, aiff "
                        "(default: the input's format if writable, else wav)")
    parser.add_argument("--bit-depth", type=int, choices=(16, 24, 32), default=24,
                        help="bits per sample for WAV/FLAC/AIFF outputs (32 = float WAV; default 24)")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="model folder (default: the packaged model, or $FEWSHOT_SEP_MODEL)")
    parser.add_argument("--chunk-seconds", type=float, default=None, metavar="S",
                        help="seconds of audio read per chunk (memory use; default about 1.5 s)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="separate the files on a local Dask cluster of N worker processes "
                        "(N > 1; needs the 'distributed' extra; default 1: one after the other here)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="separate the files on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 "
                        "(inputs and outputs must be on storage every worker sees)")
    parser.add_argument("--resume", action="store_true",
                        help="keep a job manifest (fewshot-sep-manifest.jsonl) in the output folder and "
                        "skip files it shows complete; failed or missing files are done again")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `--help` stays light, and dask is only imported
    # (inside distributed_batch) when --workers/--scheduler ask for a cluster.
    from fewshot_sep.plugin_host.distributed_batch import separate_files

    def log(message: str) -> None:
        stream = sys.stderr if ": FAILED: " in message else sys.stdout
        print(message, file=stream, flush=True)

    summary = separate_files(
        args.inputs, args.output, args.preset, workers=args.workers, scheduler=args.scheduler,
        resume=args.resume, progress=False if args.quiet else None, log=log, mode=args.mode, mix=args.mix,
        chain=args.chain, stems=args.stems, fmt=args.format, bit_depth=args.bit_depth,
        chunk_seconds=args.chunk_seconds, model=args.model,
    )
    total = len(summary.done) + len(summary.failed) + len(summary.skipped)
    if total > 1 or args.workers > 1 or args.scheduler or args.resume:
        print(summary.text(), flush=True)
    if summary.failed:
        print(
            f"{len(summary.failed)} of {total} file(s) failed: "
            + ", ".join(o.input for o in summary.failed),
            file=sys.stderr,
        )
        return 1
    return 0
