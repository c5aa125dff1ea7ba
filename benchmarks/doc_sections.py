"""Replace one marker-delimited section of a Markdown file (docs/benchmarks.md), keeping the rest."""

from __future__ import annotations

from pathlib import Path


def write_doc_section(path: Path, begin: str, end: str, markdown: str) -> None:
    """Put ``markdown`` between the ``begin``/``end`` marker lines of ``path``, atomically.

    The first marked section is replaced; without one (or without the file) the
    section is appended (to a new "# Benchmarks" page).
    """
    from fewshot_sep.utils.atomic import write_text_atomic

    block = f"{begin}\n{markdown}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if begin in text and end in text and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    write_text_atomic(path, text if text.endswith("\n") else text + "\n")
