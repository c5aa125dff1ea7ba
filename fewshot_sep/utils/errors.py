"""Errors meant for the user: the CLI prints them without a traceback."""


class UserError(Exception):
    """A problem with the user's input or environment.

    The message must name the offending value, say what is valid and how to
    fix it, e.g. ``"block size 0 is invalid: use 1..8192 (--blocksize)"``.
    """
