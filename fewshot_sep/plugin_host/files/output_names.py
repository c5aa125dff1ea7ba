"""Where `fewshot-sep separate` writes: Demucs-style ``--filename`` templates, and the overwrite rule.

A template names each output below the ``--output`` folder with the fields

- ``{track}``: the input file's name without its extension (``song`` for ``song.wav``);
- ``{preset}``: the preset's name made safe as a file name (with ``--stems``: each stem's
  name, ``residual`` for the residual; with ``--chain``: the chain file's name);
- ``{mode}``: ``isolate`` or ``remove`` (with ``--stems``: ``isolate`` for the stems and
  ``remove`` for the residual; with ``--chain``: ``chain`` unless ``--mode`` is given);
- ``{ext}``: the output format's extension without the dot (``--format``, else the input's).

Folders are allowed (``{track}/{preset}-{mode}.{ext}``); a template cannot leave the
output folder (no absolute paths, no ``..``). The default names of earlier versions
are templates too (:data:`DEFAULT_TEMPLATES`), so every output name is made one way.

No torch here.
"""

from __future__ import annotations

import os
import string
from pathlib import Path, PurePath
from typing import Iterable, Sequence

from fewshot_sep.utils.errors import UserError

TEMPLATE_FIELDS = ("track", "preset", "mode", "ext")
EXAMPLE_TEMPLATE = "{track}/{preset}-{mode}.{ext}"

#: The names written without ``--filename`` (outputs into a folder).
DEFAULT_TEMPLATES = {
    "single": "{track}.{ext}",  # one output per input, into the --output folder
    "both": "{track}-{mode}.{ext}",  # --mode both: song-isolate.wav, song-remove.wav
    "stems": "{preset}.{ext}",  # --stems, one input
    "stems-batch": "{track}/{preset}.{ext}",  # --stems, several inputs: a folder per input
}

_FIELD_LIST = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)


def check_template(template: str) -> str:
    """Return `template` if it is a valid ``--filename`` template, else raise UserError.

    Valid: literal text and the fields ``{track}``, ``{preset}``, ``{mode}``, ``{ext}``
    (``{{``/``}}`` for a literal brace), a relative path that ends in a file name.
    """
    shown = repr(template)
    hint = f"use the fields {_FIELD_LIST}, e.g. --filename '{EXAMPLE_TEMPLATE}'"
    if not isinstance(template, str) or not template.strip():
        raise UserError(f"--filename {shown} is empty: {hint}")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise UserError(f"--filename {shown} is not a valid template ({err}): write {{{{ or }}}} for a "
                        f"literal brace; {hint}") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS:
            what = "an empty field {}" if field == "" else f"the unknown field {{{field}}}"
            raise UserError(f"--filename {shown} has {what}: {hint}")
        if spec or conversion:
            raise UserError(f"--filename {shown}: {{{field}}} takes no format spec or conversion; {hint}")
    path = PurePath(template.replace("\\", "/"))
    if path.is_absolute() or template.startswith(("/", "\\")) or ".." in path.parts:
        raise UserError(f"--filename {shown} must stay inside the --output folder: no absolute path "
                        f"and no '..'; {hint}")
    if template.endswith(("/", "\\")):
        raise UserError(f"--filename {shown} ends in a folder: end it with a file name, {hint}")
    return template


def render(template: str, *, track: str, preset: str, mode: str, ext: str) -> str:
    """The relative output path `template` gives for these field values (`ext` with or without a dot)."""
    values = {
        "track": track.replace("/", "_").replace(os.sep, "_"),
        "preset": preset,
        "mode": mode,
        "ext": ext.lstrip("."),
    }
    return template.format(**values)


def name_outputs(
    out: Path,
    template: str,
    track: str,
    ext: str,
    labels: Sequence[tuple[str, str]],
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Paths (absolute, as strings) and labels of one input's outputs.

    Args:
        out: the ``--output`` folder.
        template: a checked template.
        track: the ``{track}`` value for this input.
        ext: the output extension (``.wav``).
        labels: ``(preset, mode)`` of each output, in order.

    Raises:
        UserError: a rendered name whose extension cannot be written.
    """
    from fewshot_sep.utils.audio import check_writable_extension

    paths = []
    for preset, mode in labels:
        target = out / render(template, track=track, preset=preset, mode=mode, ext=ext)
        check_writable_extension(target)
        paths.append(str(target.absolute()))
    return tuple(paths), tuple(labels)


def clash_message(path: str | os.PathLike, template: str | None) -> str:
    """The error for two outputs that would be written to one file."""
    if template is None:
        return (f"several inputs would be written to {str(path)}: give inputs with different names "
                "or process them separately")
    return (f"--filename {template!r} names several outputs {str(path)}: put the fields that tell them apart "
            f"in it ({{track}} for several inputs, {{mode}} for --mode both, {{preset}} for --stems), "
            f"e.g. '{EXAMPLE_TEMPLATE}'")


def check_overwrite(targets: Iterable[str], allowed: Iterable[str] = ()) -> None:
    """Refuse (before any work) when outputs already exist, unless they are in `allowed`.

    Args:
        targets: every file the job would write.
        allowed: files that may be replaced anyway (``--resume``: this folder's own earlier outputs).

    Raises:
        UserError: naming the files and the ``--overwrite`` flag.
    """
    allowed = set(allowed)
    existing = [t for t in targets if t not in allowed and os.path.lexists(t)]
    if not existing:
        return
    shown = ", ".join(repr(p) for p in existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
    raise UserError(
        f"{len(existing)} output file(s) already exist: {shown}; nothing was written. Pass --overwrite to "
        "replace them, or choose another --output (or --filename)"
    )
