"""The two user controls every processor shares: ``mode`` and ``mix``.

``mode``: "isolate" keeps the instrument, "remove" keeps everything else.
``mix``: wet/dry from 0 (the input) to 1 (fully separated). The engine, the
plugin and preset defaults all accept exactly these values.
"""

from __future__ import annotations

import math

from fewshot_sep.utils.errors import UserError

#: The separation modes, the default first.
MODES = ("isolate", "remove")


def check_mode(mode: str, error: type[Exception] = UserError) -> str:
    """Return `mode` if it is one of :data:`MODES`, else raise `error` saying what is valid."""
    if not isinstance(mode, str) or mode not in MODES:
        raise error(f"mode {mode!r} is invalid: use 'isolate' or 'remove'")
    return mode


def check_mix(mix: float, error: type[Exception] = UserError) -> float:
    """Return `mix` as a float in [0, 1] (anything ``float()`` reads), else raise `error`.

    NaN and infinities are refused; 0 = dry input, 1 = fully separated.
    """
    try:
        value = float(mix)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise error(f"mix {mix!r} is invalid: use a number from 0 (dry) to 1 (wet, fully processed)")
    return value
