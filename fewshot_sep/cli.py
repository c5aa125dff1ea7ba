"""The `fewshot-sep` command line.

Every sub-command lives in its own module under `fewshot_sep.commands` and is
discovered here, so layers add commands without touching this file. A command
module defines::

    def register(subparsers: argparse._SubParsersAction) -> None

which adds its parser and sets ``func=run`` (a callable taking the parsed
namespace and returning an exit code). Command modules must not import torch at
module level: producer-facing commands run without it.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from fewshot_sep import __version__
from fewshot_sep.utils.atomic import install_sigterm_cleanup
from fewshot_sep.utils.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="fewshot-sep",
        description="Few-shot music source separation: isolate or remove any "
        "instrument from a few example clips, offline or live.",
    )
    parser.add_argument("--version", action="version", version=f"fewshot-sep {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import fewshot_sep.commands as commands_pkg

    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"fewshot_sep.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `fewshot-sep`; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    # Temp files of atomic writes are removed on SIGTERM as on Ctrl-C (timeout, systemd, docker stop).
    install_sigterm_cleanup()
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"fewshot-sep {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`fewshot-sep preset list | head -1`): stop
        # quietly, as a program killed by SIGPIPE would (status 128 + 13), not with a traceback.
        from fewshot_sep.utils.console import silence_stream

        silence_stream(sys.stdout)
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
