"""`fewshot-sep separate`: isolate or remove an instrument from audio files.

    fewshot-sep separate IN.wav --preset P --output OUT.wav [--mode isolate|remove] [--mix M]
    fewshot-sep separate a.wav b.flac songs/ --preset P --output out_folder/
    fewshot-sep separate IN.wav --chain CHAIN.json [--preset P] --output OUT.wav
    fewshot-sep separate IN.wav --stems --preset bass.json --preset builtin:drums --output stems/

No torch is imported here (producer command).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fewshot_sep.utils.errors import UserError


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
    parser.set_defaults(func=run)


def _output_extension(input_path: Path, fmt: str | None) -> str:
    from fewshot_sep.utils.audio import WRITABLE_EXTENSIONS

    if fmt:
        ext = fmt.lower() if fmt.startswith(".") else "." + fmt.lower()
        if ext not in WRITABLE_EXTENSIONS:
            raise UserError(
                f"--format {fmt!r} is not supported: use one of "
                f"{', '.join(e.lstrip('.') for e in WRITABLE_EXTENSIONS)}"
            )
        return ext
    ext = input_path.suffix.lower()
    return ext if ext in WRITABLE_EXTENSIONS else ".wav"


def run(args: argparse.Namespace) -> int:
    from fewshot_sep.plugin_host.chain_file import load_chain
    from fewshot_sep.plugin_host.file_processing import (
        DEFAULT_CHUNK_FRAMES,
        RESIDUAL_NAME,
        expand_inputs,
        run_batch,
        safe_file_stem,
        stream_file,
    )
    from fewshot_sep.plugin_host.separator_plugin import FewShotSeparator, check_mix, load_model

    if args.mix is not None:
        check_mix(args.mix)
    inputs = expand_inputs(args.inputs)
    batch = len(args.inputs) > 1 or any(Path(p).is_dir() for p in args.inputs)
    output = Path(args.output).expanduser()
    model = load_model(args.model)
    chunk_frames_for = _chunk_frames_function(args.chunk_seconds, DEFAULT_CHUNK_FRAMES)
    progress = False if args.quiet else None

    if args.stems:
        if args.chain:
            raise UserError("--stems and --chain cannot be combined: --stems runs one separator per --preset")
        if not args.preset:
            raise UserError("--stems needs at least one --preset (repeat --preset for each instrument)")
        if args.mode == "remove":
            raise UserError("--stems isolates each preset's instrument; --mode remove does not apply "
                            "(the 'residual' file holds everything else)")
        if args.mix is not None:
            raise UserError("--mix does not apply to --stems (each stem is fully separated)")
        if output.suffix and output.suffix.lower() in (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"):
            raise UserError(f"with --stems, --output is a folder, not a file: got {str(output)!r}")
        separators = [FewShotSeparator(ref, mode="isolate", mix=1.0, model=model) for ref in args.preset]
        names = _unique([safe_file_stem(s.name) for s in separators])
        if RESIDUAL_NAME in names:
            raise UserError(f"a preset is named {RESIDUAL_NAME!r}, which clashes with the residual stem: rename it")

        def stems_job(path: Path):
            folder = output / safe_file_stem(path.stem) if batch else output
            ext = _output_extension(path, args.format)
            return stream_file(
                separators, path, [folder / f"{n}{ext}" for n in names],
                residual_path=folder / f"{RESIDUAL_NAME}{ext}",
                chunk_frames=chunk_frames_for(path), bit_depth=args.bit_depth, progress=progress,
            )

        jobs = [(p, (lambda p=p: stems_job(p))) for p in inputs]
    else:
        if args.chain:
            if len(args.preset) > 1:
                raise UserError("give at most one --preset with --chain (it fills separators that name none)")
            processor = load_chain(
                args.chain, model=model, default_preset=args.preset[0] if args.preset else None,
                mode_override=args.mode, mix_override=args.mix,
            )
        else:
            if not args.preset:
                raise UserError("give a preset with --preset (builtin:NAME, a library name or a .json file)")
            if len(args.preset) > 1:
                raise UserError("several --preset values need --stems (one output file per preset)")
            processor = FewShotSeparator(args.preset[0], mode=args.mode, mix=args.mix, model=model)
        to_folder = batch or output.is_dir() or str(args.output).endswith(("/", os.sep))
        if not to_folder:
            from fewshot_sep.utils.audio import check_writable_extension

            check_writable_extension(output)  # a clear error before any work
        targets = {}
        for path in inputs:
            targets[path] = output / f"{path.stem}{_output_extension(path, args.format)}" if to_folder else output
        clashes = _duplicates(list(targets.values()))
        if clashes:
            raise UserError(
                f"several inputs would be written to {clashes[0]}: give inputs with different names "
                "or process them separately"
            )
        jobs = [
            (p, (lambda p=p: stream_file(
                [processor], p, [targets[p]], chunk_frames=chunk_frames_for(p),
                bit_depth=args.bit_depth, progress=progress)))
            for p in inputs
        ]

    def log(message: str) -> None:
        stream = sys.stderr if ": FAILED: " in message else sys.stdout
        print(message, file=stream, flush=True)

    report = run_batch(jobs, log=log)
    if report.failures:
        print(
            f"{len(report.failures)} of {len(jobs)} file(s) failed: "
            + ", ".join(str(p) for p, _ in report.failures),
            file=sys.stderr,
        )
        return 1
    return 0


def _chunk_frames_function(chunk_seconds: float | None, default: int):
    if chunk_seconds is None:
        return lambda path: default
    if not chunk_seconds > 0:
        raise UserError(f"--chunk-seconds {chunk_seconds} is invalid: give a positive number of seconds")

    def frames(path: Path) -> int:
        from fewshot_sep.utils.audio import audio_info

        try:
            rate = audio_info(path)[0]
        except UserError:
            rate = 44100  # the job itself reports the unreadable file
        return max(1, int(round(chunk_seconds * rate)))

    return frames


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 1
            out.append(name)
    return out


def _duplicates(paths: list[Path]) -> list[Path]:
    seen, dups = set(), []
    for p in paths:
        key = p.resolve()
        if key in seen:
            dups.append(p)
        seen.add(key)
    return dups
