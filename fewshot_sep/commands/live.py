"""`fewshot-sep live`: separate live from an audio input to an output.

    fewshot-sep live --preset P [--preset P2 ...] [--input DEV] [--output DEV]
                     [--samplerate SR] [--blocksize N] [--channels C] [--mode M] [--mix X]
    fewshot-sep live --jack [--client-name NAME] [--no-autoconnect] --preset P ...

PortAudio (sounddevice) by default, on any host API; ``--jack`` runs a native JACK
client instead (JACK-Client, imported only then). No torch is imported here
(producer command).
"""

from __future__ import annotations

import argparse

def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "live",
        help="isolate or remove an instrument live, from an audio input to an output",
        description="Run the separator live on an audio interface (PortAudio) or as a JACK client (--jack). "
        "Keys while running: 1-9 preset, n/p next/previous preset, m isolate/remove, b or space bypass, "
        "+/- mix, q quit (Ctrl-C also stops and prints a summary).",
    )
    parser.add_argument("--preset", "-p", action="append", default=[], required=True, metavar="PRESET",
                        help="builtin:NAME, a library name or a .json file; repeat to switch between "
                        "presets with the keys 1-9")
    parser.add_argument("--input", "-i", default=None, metavar="DEV",
                        help="input device: index or part of its name (see `fewshot-sep devices`)")
    parser.add_argument("--output", "-o", default=None, metavar="DEV",
                        help="output device: index or part of its name (see `fewshot-sep devices`)")
    parser.add_argument("--samplerate", "-r", type=float, default=None, metavar="SR",
                        help="sample rate in Hz (default: the output device's default rate; with --jack the "
                        "server's, and another value is refused)")
    parser.add_argument("--blocksize", "-b", type=int, default=None, metavar="N",
                        help="frames per audio callback, 1..8192 (0 = device's choice; default 256; with --jack "
                        "the server's period, and another value is refused)")
    parser.add_argument("--channels", "-c", type=int, default=2, metavar="C",
                        help="channels in and out (default 2)")
    parser.add_argument("--mode", choices=("isolate", "remove"), default=None,
                        help="start in this mode (default: the first preset's)")
    parser.add_argument("--mix", type=float, default=None, metavar="M",
                        help="start with this wet/dry mix, 0..1 (default: the first preset's)")
    parser.add_argument("--latency", default=None, metavar="L",
                        help="PortAudio latency hint: low, high or seconds (default low)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds (default: run until q or Ctrl-C)")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="model folder (default: the packaged model, or $FEWSHOT_SEP_MODEL)")
    jack = parser.add_argument_group("JACK (native client)")
    jack.add_argument("--jack", action="store_true",
                      help="run as a JACK client with named ports and its latency published to JACK, at the "
                      "server's rate and period (needs a running JACK server; JACK_DEFAULT_SERVER picks one)")
    jack.add_argument("--client-name", default=None, metavar="NAME",
                      help="the JACK client's name (default fewshot-sep); ports NAME:in_L, NAME:in_R, "
                      "NAME:out_L, NAME:out_R")
    jack.add_argument("--no-autoconnect", action="store_true",
                      help="leave the JACK ports unconnected (default: connect them to the system's ports)")
    parser.set_defaults(func=run)


def _check_options(args: argparse.Namespace) -> str | float:
    """Usage errors (UserError, exit 2) before anything is opened; returns the latency hint."""
    import math

    from fewshot_sep.utils.errors import UserError

    if args.jack:
        given = [flag for flag, value in (("--input", args.input), ("--output", args.output),
                                          ("--latency", args.latency)) if value is not None]
        if given:
            one = len(given) == 1
            raise UserError(f"{', '.join(given)} {'sets' if one else 'set'} up PortAudio and "
                            f"{'does' if one else 'do'} not apply with --jack: leave {'it' if one else 'them'} out "
                            "and use your patchbay to connect the JACK ports (or let --jack connect them to the "
                            "system ports)")
    else:
        given = [flag for flag, value in (("--client-name", args.client_name is not None),
                                          ("--no-autoconnect", args.no_autoconnect)) if value]
        if given:
            it = "it" if len(given) == 1 else "them"
            raise UserError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to the native "
                            f"JACK client: use {it} with --jack (or leave {it} out)")
    latency: str | float = "low" if args.latency is None else args.latency
    if latency not in ("low", "high"):
        try:
            latency = float(latency)
        except ValueError:
            latency = math.nan
        if not (math.isfinite(latency) and 0 < latency <= 10):
            raise UserError(f"--latency {args.latency!r} is invalid: use low, high or seconds (e.g. 0.01)") from None
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UserError(f"--duration {args.duration!r} is invalid: give seconds > 0 (or leave it out to run until q)")
    return latency


def run(args: argparse.Namespace) -> int:
    from fewshot_sep.plugin_host.live.host import LiveHost

    latency = _check_options(args)
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
        backend="jack" if args.jack else "portaudio",
        client_name=args.client_name,
        autoconnect=not args.no_autoconnect,
    )
    summary = host.run(duration=args.duration)
    return 0 if summary.errors == 0 else 1
