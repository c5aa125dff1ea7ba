"""Preset names: what is allowed, so a name is always a safe file name in the library.

A name is 1-64 characters of letters (any script), digits, spaces and ``- _ . + ( ) ' ,``;
it starts with a letter or digit, does not end with a space or dot, and is not a
name Windows reserves (CON, NUL, COM1...). No path separators, no ``..``: a name
can never escape the library folder.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Iterable

from fewshot_sep.utils.errors import UserError

MAX_NAME_CHARS = 64
# fullmatch, not match with "$": "$" also matches before a final newline ("bass\n" would pass).
_ALLOWED = re.compile(r"[^\W_][\w \-.+()',]*")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_HINT = (
    "use 1-64 letters, digits, spaces and - _ . + ( ) ' , starting with a letter or digit, "
    "e.g. 'upright bass' or 'lead-synth_2'"
)


def check_name(name: str) -> str:
    """Return `name` (NFC-normalised) if it is a valid preset name, else raise UserError."""
    if not isinstance(name, str):
        raise UserError(f"preset name must be text, got {type(name).__name__}")
    normalised = unicodedata.normalize("NFC", name)
    shown = repr(name) if len(name) <= 80 else repr(name[:80] + "...")
    if not normalised.strip():
        raise UserError(f"preset name {shown} is empty: {_HINT}")
    if len(normalised) > MAX_NAME_CHARS:
        raise UserError(f"preset name {shown} is {len(normalised)} characters long, more than {MAX_NAME_CHARS}: {_HINT}")
    if "/" in normalised or "\\" in normalised or ".." in normalised or "\x00" in normalised:
        raise UserError(f"preset name {shown} contains a path separator or '..', which is not allowed: {_HINT}")
    if not _ALLOWED.fullmatch(normalised) or normalised != normalised.rstrip(" ."):
        raise UserError(f"preset name {shown} has characters that are not allowed: {_HINT}")
    if normalised.lower().endswith(".json"):
        raise UserError(
            f"preset name {shown} ends in .json: give the name without the extension "
            f"(a value ending in .json is read as a file path)"
        )
    if normalised.split(".")[0].strip().lower() in _WINDOWS_RESERVED:
        raise UserError(f"preset name {shown} is reserved on Windows: choose another name")
    return normalised


def name_key(name: str) -> str:
    """Case-insensitive identity of a name (two presets may not differ only by case)."""
    return unicodedata.normalize("NFC", name).casefold()


def did_you_mean(typed: str, candidates: "Iterable[str] | dict[str, str]") -> str:
    """A hint naming the candidates closest to `typed`, e.g. ``" (did you mean builtin:violin?)"``; "" if none.

    Args:
        typed: what the user wrote.
        candidates: the names that exist, or ``{name to compare against: name to suggest}``
            (so ``violin`` can be matched against a built-in and suggested as ``builtin:violin``).

    Matching is case-insensitive (difflib's ratio, at least 0.6); at most three names.
    """
    pairs = candidates if isinstance(candidates, dict) else {c: c for c in candidates}
    keyed: dict[str, str] = {}
    for compare, suggest in pairs.items():
        keyed.setdefault(name_key(compare), suggest)
    close = difflib.get_close_matches(name_key(str(typed)), list(keyed), n=3, cutoff=0.6)
    names = list(dict.fromkeys(keyed[c] for c in close))
    if not names:
        return ""
    return f" (did you mean {' or '.join(names)}?)"
