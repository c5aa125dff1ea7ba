"""One layering picture: the package docstring, README.md and docs/internals.md show the same
text, so the three cannot drift apart (tests/repo/test_layering.py checks the code against it).

In the Markdown files the picture is the indented block between ``<!-- layering picture ...-->``
and ``<!-- /layering picture -->`` (indented, not fenced: tests/repo/test_readme.py runs the
README's fenced blocks); in the docstring, its indented block.
"""

from __future__ import annotations

import re

import fewshot_sep
from repo_paths import REPO

_BETWEEN_MARKERS = re.compile(r"^<!-- layering picture\b.*?-->\n(.*?)^<!-- /layering picture -->", re.S | re.M)


def indented_block(text: str) -> str:
    """The first run of lines indented by four spaces (blank lines inside it kept), dedented."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("    "))
    block = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip("\n")


def markdown_picture(name: str) -> str:
    found = _BETWEEN_MARKERS.findall((REPO / name).read_text(encoding="utf-8"))
    assert len(found) == 1, f"{name}: one layering picture between the markers, found {len(found)}"
    return indented_block(found[0])


def test_the_picture_is_the_same_in_the_docstring_the_readme_and_internals():
    picture = indented_block(fewshot_sep.__doc__)
    assert markdown_picture("README.md") == picture
    assert markdown_picture("docs/internals.md") == picture


def test_the_picture_names_every_package():
    picture = indented_block(fewshot_sep.__doc__)
    packages = sorted(p.name for p in (REPO / "fewshot_sep").iterdir()
                      if (p / "__init__.py").exists() and p.name not in ("commands",))
    missing = [name for name in packages
               if not re.search(rf"\b{name}\b", picture)]
    assert not missing, f"packages the layering picture leaves out: {missing}"


def test_the_extraction_sees_a_changed_line():
    text = "<!-- layering picture: x -->\n\n    a\n      b\n\n<!-- /layering picture -->\n"
    assert indented_block(_BETWEEN_MARKERS.findall(text)[0]) == "a\n  b"
    assert indented_block(_BETWEEN_MARKERS.findall(text.replace("  b", "  c"))[0]) != "a\n  b"
