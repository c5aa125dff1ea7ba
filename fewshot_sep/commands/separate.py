"""`fewshot-sep separate`: isolate or remove an instrument from audio files.

    fewshot-sep separate IN.wav --preset P --output OUT.wav [--mode isolate|remove] [--mix M]
    fewshot-sep separate IN.wav --preset P --mode both --output out/   # out/IN-isolate.wav, out/IN-remove.wav
    fewshot-sep separate a.wav b.flac songs/ --preset P --output out_folder/ [--filename '{track}/{preset}-{mode}.{ext}']
    fewshot-sep separate songs/ --preset P --output out/ --jobs 4 --json > results.json
    fewshot-sep separate IN.wav --chain CHAIN.json [--preset P] --output OUT.wav
    fewshot-sep separate IN.wav --stems --preset bass.json --preset builtin:drums --output stems/
    fewshot-sep separate catalog/ --preset P --output out/ --workers 4 --resume
    fewshot-sep separate catalog/ --preset P --output /shared/out/ --scheduler tcp://10.0.0.5:8786 --resume

The options become a job (fewshot_sep.plugin_host.files.plan) that runs here or on
Dask (fewshot_sep.plugin_host.files.batch), one file at a time through the
same per-file code.

Existing outputs are never replaced without --overwrite: the whole batch is refused
before any work starts (exit 2), naming the files. With --json, stdout carries one JSON
document (per-file results) and everything else goes to stderr.

No torch is imported here (producer command).
"""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument("--mode", choices=("isolate", "remove", "both"), action="append", default=None,
                        help="isolate = keep the instrument, remove = keep everything else, both = write both "
                        "from one pass (they add up to the input); repeat to ask for several "
                        "(default: the preset's)")
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
    parser.add_argument("--filename", default=None, metavar="TEMPLATE",
                        help="output names below the --output folder, from {track} (input name), {preset}, "
                        "{mode} and {ext}; folders allowed, e.g. '{track}/{preset}-{mode}.{ext}'")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that already exist (without it the run is refused "
                        "before any work)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document with per-file results on stdout (for scripts); "
                        "progress and messages go to stderr")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="separate N files at a time in local processes (no Dask needed; default 1)")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="threads per separator (default 1; 2 runs a stereo file's channels in parallel, "
                        "same output); keep jobs x threads at or under your free cores")
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
    """Entry point of `fewshot-sep separate`; returns the exit status (0 done, 1 some files failed)."""
    # Imported here, not at the top: `--help` stays light, and dask is only imported
    # (inside plugin_host.files.batch) when --workers/--scheduler ask for a cluster.
    from fewshot_sep.plugin_host.files.outcome import error_report
    from fewshot_sep.plugin_host.files.batch import separate_files
    from fewshot_sep.utils.console import emit
    from fewshot_sep.utils.errors import UserError

    def log(message: str) -> None:
        failure = ": FAILED: " in message or ": warning: " in message
        emit(message, sys.stderr if (failure or args.json) else sys.stdout)

    try:
        summary = separate_files(
            args.inputs, args.output, args.preset, workers=args.workers, scheduler=args.scheduler,
            jobs=args.jobs, resume=args.resume, overwrite=args.overwrite, progress=False if args.quiet else None,
            log=log, mode=args.mode, mix=args.mix, chain=args.chain, stems=args.stems, fmt=args.format,
            bit_depth=args.bit_depth, chunk_seconds=args.chunk_seconds, model=args.model, filename=args.filename,
            threads=args.threads,
        )
    except UserError as err:
        if args.json:
            emit(json.dumps(error_report(str(err)), indent=1))
        raise
    total = len(summary.done) + len(summary.failed) + len(summary.skipped)
    if args.json:
        emit(json.dumps(summary.report(), indent=1))
    elif total > 1 or args.workers > 1 or args.jobs > 1 or args.scheduler or args.resume:
        emit(summary.text())
    if summary.failed:
        emit(f"{len(summary.failed)} of {total} file(s) failed: " + ", ".join(o.input for o in summary.failed),
             sys.stderr)
        return 1
    return 0
