"""Text from files for the terminal: shared presets carry free text that must not drive it."""

from __future__ import annotations

import unicodedata


def terminal_safe(text: str) -> str:
    """`text` with control and format characters shown as escapes (``\\x1b``, ``\\u202e``).

    A description or clip name in a shared preset could otherwise clear the screen,
    set the window title or reorder what is shown (bidi overrides). Printable text,
    any script, is unchanged; a tab becomes a space.
    """
    out = []
    for ch in text:
        if ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)
