"""`fewshot-sep demo`: the main job on a bundled default.

Separates the bundled example mix (`fewshot_sep/assets/example/mix.flac`, a 7 s
render of piano, bass, violin, flute and drums) with a built-in preset, writes
the isolated and the removed versions, and prints where they are together with
the SI-SDR improvement measured against the bundled reference stem. Runs on
numpy + onnxruntime only (no torch). ``--write-examples DIR`` writes the example
as files instead (a song, an album folder, takes of each instrument), so every
command in the README can be run on a fresh machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fewshot_sep.utils.errors import UserError

#: Built-in preset -> stem of the bundled example it should isolate.
_REFERENCE_STEMS = {
    "builtin:piano": "000-acoustic-grand-piano",
    "builtin:violin": "040-violin",
    "builtin:flute": "073-flute",
    "builtin:drums": "128-drums-standard",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    parser = subparsers.add_parser(
        "demo", help="separate the bundled example mix with a built-in preset and say where the result is"
    )
    parser.add_argument("--out", default=None,
                        help="folder for the demo output (default: <user cache>/fewshot-sep/demo)")
    parser.add_argument("--preset", default="builtin:violin",
                        help="preset to isolate/remove (default builtin:violin; also builtin:piano, "
                             "builtin:flute, builtin:drums, or any preset reference)")
    parser.add_argument("--model", default=None, help="model folder (default: the packaged model)")
    parser.add_argument("--write-examples", metavar="DIR", default=None,
                        help="instead: write the example as files to try the other commands on (song.wav, "
                        "album/, two takes of each instrument: bass-1.wav, bass-2.flac, ...) into DIR")
    parser.add_argument("--overwrite", action="store_true", help="with --write-examples: replace existing files")
    parser.set_defaults(func=run)


def default_demo_folder() -> Path:
    """``<user cache>/fewshot-sep/demo`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("fewshot-sep")) / "demo"


def run_demo(out: Path, preset: str, model: str | None) -> int:
    """Separate the example mix into `out` and print the files and the measured improvement."""
    from fewshot_sep.plugin_host.files.example import example_mix_path, separate_example
    from fewshot_sep.utils.audio import read_audio
    from fewshot_sep.utils.metrics import si_sdr

    outputs = separate_example(out, preset=preset, model=model)
    print(f"isolated ({preset}): {outputs[0]}")
    print(f"removed  ({preset}): {outputs[1]}")
    stem_name = _REFERENCE_STEMS.get(preset)
    if stem_name is not None:
        example = example_mix_path().parent
        json.loads((example / "example.json").read_text())  # fails loudly if the example is damaged
        reference, _ = read_audio(example / "stems" / f"{stem_name}.flac")
        mix, _ = read_audio(example_mix_path())
        isolated, _ = read_audio(outputs[0])
        before, after = si_sdr(reference, mix), si_sdr(reference, isolated)  # fewshot_sep.utils.metrics convention
        print(f"SI-SDR against the reference stem: mixture {before:.1f} dB -> isolated {after:.1f} dB "
              f"(improvement {after - before:+.1f} dB)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of `fewshot-sep demo`."""
    if args.write_examples is not None:
        from fewshot_sep.plugin_host.files.example import write_examples

        written = write_examples(args.write_examples, overwrite=args.overwrite)
        print(f"wrote {len(written)} example files into {args.write_examples}:")
        for path in written:
            print(f"  {path}")
        return 0
    out = Path(args.out) if args.out else default_demo_folder()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {str(out)!r} is a file: give a folder")
    return run_demo(out, args.preset, args.model)
