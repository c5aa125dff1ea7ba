"""`fewshot-sep live`: separate live from an audio interface (sounddevice duplex stream).

    fewshot-sep live --preset P [--preset P2 ...] [--input DEV] [--output DEV]
                     [--samplerate SR] [--blocksize N] [--channels C] [--mode M] [--mix X]

No torch is imported here (producer command).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "live",
        help="isolate or remove an instrument live, from an audio input to an output",
        description="Run the separator live on an audio interface. Keys while running: 1-9 preset, "
        "n/p next/previous preset, m isolate/remove, b or space bypass, +/- mix, q quit "
        "(Ctrl-C also stops and prints a summary).",
    )
    parser.add_argument("--preset", "-p", action="append", default=[], required=True, metavar="PRESET",
                        help="builtin:NAME, a library name or a .json file; repeat to switch between "
                        "presets with the keys 1-9")
    parser.add_argument("--input", "-i", default=None, metavar="DEV",
                        help="input device: index or part of its name (see `fewshot-sep devices`)")
    parser.add_argument("--output", "-o", default=None, metavar="DEV",
                        help="output device: index or part of its name (see `fewshot-sep devices`)")
    parser.add_argument("--samplerate", "-r", type=float, default=None, metavar="SR",
                        help="sample rate in Hz (default: the output device's default rate)")
    parser.add_argument("--blocksize", "-b", type=int, default=256, metavar="N",
                        help="frames per audio callback, 1..8192 (0 = device's choice; default 256)")
    parser.add_argument("--channels", "-c", type=int, default=2, metavar="C",
                        help="channels in and out (default 2)")
    parser.add_argument("--mode", choices=("isolate", "remove"), default=None,
                        help="start in this mode (default: the first preset's)")
    parser.add_argument("--mix", type=float, default=None, metavar="M",
                        help="start with this wet/dry mix, 0..1 (default: the first preset's)")
    parser.add_argument("--latency", default="low", metavar="L",
                        help="PortAudio latency hint: low, high or seconds (default low)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds (default: run until q or Ctrl-C)")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="model folder (default: the packaged model, or $FEWSHOT_SEP_MODEL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import math

    from fewshot_sep.plugin_host.live_host import LiveHost
    from fewshot_sep.utils.errors import UserError

    latency: str | float = args.latency
    if latency not in ("low", "high"):
        try:
            latency = float(latency)
        except ValueError:
            latency = math.nan
        if not (math.isfinite(latency) and 0 < latency <= 10):
            raise UserError(f"--latency {args.latency!r} is invalid: use low, high or seconds (e.g. 0.01)") from None
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UserError(f"--duration {args.duration!r} is invalid: give seconds > 0 (or leave it out to run until q)")
    host = LiveHost(
        args.preset,
        model=args.model,
        input_device=args.input,
        output_device=args.output,
        samplerate=args.samplerate,
        blocksize=args.blocksize,
        channels=args.channels,
        mode=args.mode,
        mix=args.mix,
        latency=latency,
    )
    summary = host.run(duration=args.duration)
    return 0 if summary.errors == 0 else 1
