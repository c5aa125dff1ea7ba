"""`fewshot-sep demo`: the main job on a bundled default.

Until the separation model ships, the demo renders a small example dataset
(0.02 h of stems, generated works only) into the user cache folder and prints
its summary. `run_demo` is the one function a later issue replaces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fewshot_sep.utils.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    parser = subparsers.add_parser("demo", help="run the main job on a bundled default (renders a small example dataset)")
    parser.add_argument("--out", default=None, help="folder for the demo output (default: the user cache folder)")
    parser.add_argument("--hours", type=float, default=0.02, help="hours of stems to render (default 0.02)")
    parser.set_defaults(func=run)


def default_demo_folder() -> Path:
    """``<user cache>/fewshot-sep/demo-data`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("fewshot-sep")) / "demo-data"


def run_demo(out: Path, hours: float) -> int:
    """Render a small dataset into `out` (resumable) and print its summary."""
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth, in the `train` extra)
    except (ImportError, OSError) as err:
        raise UserError(f"the demo renders audio with FluidSynth, which is not available ({err}): "
                        "install libfluidsynth3 and `pip install 'fewshot-sep[train]'`") from err
    from fewshot_sep.data.manifest import read_manifest, summarize, validate_manifest
    from fewshot_sep.data.render import render_dataset

    manifest = render_dataset(out, hours=hours, seed=0, workers=1, use_corpus=False)
    problems = validate_manifest(out)
    print(summarize(read_manifest(manifest)))
    if problems:
        raise UserError(f"the demo dataset in {out} is invalid: {problems[0]} (delete the folder and re-run)")
    print(f"demo dataset: {out} (manifest valid)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of `fewshot-sep demo`."""
    out = Path(args.out) if args.out else default_demo_folder()
    if not args.hours > 0:
        raise UserError(f"--hours {args.hours} is invalid: give a positive number, e.g. 0.02")
    return run_demo(out, args.hours)
