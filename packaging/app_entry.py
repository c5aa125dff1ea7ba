"""Entry point of the standalone `fewshot-sep` app (PyInstaller, see build.spec).

Runs the normal CLI. Commands that need a package the app leaves out (torch,
the training/export/data/eval layers) end with a one-line message and exit
code 2 instead of a ModuleNotFoundError traceback.
"""

from __future__ import annotations

import sys

from standalone_policy import is_training_only, unavailable_message


def _command_name(argv: list[str]) -> str | None:
    """The sub-command named on the command line (first argument not starting with '-')."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


def main() -> int:
    from fewshot_sep.cli import main as cli_main

    try:
        return cli_main()
    except ModuleNotFoundError as err:
        if not is_training_only(err.name):
            raise
        print(f"fewshot-sep: error: {unavailable_message(_command_name(sys.argv[1:]), err.name)}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # harmless today; keeps worker processes working if a command adds them
    sys.exit(main())
