"""`fewshot-sep devices`: list audio devices and host APIs for `fewshot-sep live`.

No torch is imported here (producer command).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="list audio input/output devices (for `live --input/--output`)",
        description="List the audio devices PortAudio sees, with their host API, channel counts and "
        "default sample rate. Pass an index or part of a name to `fewshot-sep live --input/--output`.",
    )
    parser.set_defaults(func=run)


def device_table() -> str:
    """The device list as text (one line per device, defaults marked with > and <)."""
    import sounddevice as sd

    hostapis = sd.query_hostapis()
    devices = sd.query_devices()
    default_in, default_out = sd.default.device
    lines = []
    for index, dev in enumerate(devices):
        mark = (">" if index == default_in else " ") + ("<" if index == default_out else " ")
        api = hostapis[dev["hostapi"]]["name"]
        lines.append(
            f"{mark} {index:3d}  {dev['name']}  [{api}]  in {dev['max_input_channels']}, "
            f"out {dev['max_output_channels']}, {dev['default_samplerate']:.0f} Hz"
        )
    if not lines:
        lines.append("  (no audio devices found; on Linux start JACK or check ALSA, then run this again)")
    lines.append("> default input, < default output; host APIs: " + ", ".join(a["name"] for a in hostapis))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    print(device_table())
    return 0
