"""`fewshot-sep preset ...`: make, update and manage instrument presets (no torch).

Sub-commands: create, add, set, list, show, rename, delete, import, export.
A preset reference (REF) is a library name, ``builtin:NAME`` or a path to a .json file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fewshot_sep.utils.errors import UserError

_REF_HELP = "a preset: a name in your library, builtin:NAME, or a path to a .json preset file"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `preset` command and its sub-commands."""
    parser = subparsers.add_parser(
        "preset",
        help="make and manage instrument presets from example clips",
        description="Make an instrument preset from a few example recordings, and manage your preset "
        "library. Examples are audio files (WAV, FLAC, OGG, MP3, AIFF; any sample rate, mono or "
        "multichannel); choose a passage with FILE@START-END or FILE@START- (seconds, m:ss or h:mm:ss).",
    )
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    sub = parser.add_subparsers(dest="preset_command", metavar="ACTION")

    def model_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", metavar="DIR", default=None,
                       help="model folder (default: $FEWSHOT_SEP_MODEL or the packaged model)")

    def strict_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--strict", action="store_true",
                       help="refuse when any example file is unusable (default: leave it out with a warning "
                       "and build from the others)")

    p = sub.add_parser("create", help="build a preset from example clips",
                       description="Build a preset from example clips of one instrument (and optionally "
                       "negative examples of what should NOT be separated). Without --output it is saved "
                       "in your preset library under NAME.")
    p.add_argument("name", metavar="NAME", help="preset name, e.g. 'upright bass'")
    p.add_argument("--examples", "-e", nargs="+", required=True, metavar="FILE[@START-END]",
                   help="audio files of the instrument alone (the more varied the better)")
    p.add_argument("--negative", "-n", nargs="+", default=[], metavar="FILE[@START-END]",
                   help="audio files of sounds to leave out (e.g. another instrument in the same mix)")
    p.add_argument("--output", "-o", metavar="P.json", default=None, help="write the preset to this file instead")
    p.add_argument("--description", default="", help="free text stored in the preset")
    p.add_argument("--mode", choices=("isolate", "remove"), default="isolate", help="default mode (default: isolate)")
    p.add_argument("--mix", type=float, default=1.0, help="default wet/dry mix 0..1 (default: 1)")
    p.add_argument("--force", action="store_true", help="replace an existing preset or file")
    strict_option(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    model_option(p)
    p.set_defaults(func=_run_create)

    p = sub.add_parser("add", help="add example clips to an existing preset",
                       description="Add examples (and/or negatives) to a preset; the stored running "
                       "means are updated, as if the preset had been built from all the files.")
    p.add_argument("ref", metavar="REF", help=_REF_HELP)
    p.add_argument("--examples", "-e", nargs="+", default=[], metavar="FILE[@START-END]")
    p.add_argument("--negative", "-n", nargs="+", default=[], metavar="FILE[@START-END]")
    p.add_argument("--output", "-o", metavar="P.json", default=None,
                   help="write the result here instead of updating REF in place")
    p.add_argument("--force", action="store_true", help="replace --output if it exists")
    strict_option(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    model_option(p)
    p.set_defaults(func=_run_add)

    p = sub.add_parser("set", help="change a preset's defaults or description")
    p.add_argument("ref", metavar="REF", help="a library name or a path to a .json preset file")
    p.add_argument("--mode", choices=("isolate", "remove"), default=None)
    p.add_argument("--mix", type=float, default=None)
    p.add_argument("--description", default=None)
    p.set_defaults(func=_run_set)

    p = sub.add_parser("list", help="list your presets and the built-in ones")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    model_option(p)
    p.set_defaults(func=_run_list)

    p = sub.add_parser("show", help="show a preset's details")
    p.add_argument("ref", metavar="REF", help=_REF_HELP)
    p.add_argument("--json", action="store_true", help="print the preset document")
    model_option(p)
    p.set_defaults(func=_run_show)

    p = sub.add_parser("rename", help="rename a preset in your library")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument("--force", action="store_true", help="replace an existing preset called NEW")
    p.set_defaults(func=_run_rename)

    p = sub.add_parser("delete", help="delete a preset from your library")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=_run_delete)

    p = sub.add_parser("import", help="copy a preset file (or builtin:NAME) into your library")
    p.add_argument("source", metavar="FILE", help="a .json preset file or builtin:NAME")
    p.add_argument("--name", default=None, help="store it under this name")
    p.add_argument("--force", action="store_true", help="replace a library preset of the same name")
    p.set_defaults(func=_run_import)

    p = sub.add_parser("export", help="write a copy of a preset to a file (to share it)")
    p.add_argument("ref", metavar="REF", help=_REF_HELP)
    p.add_argument("output", metavar="P.json")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.set_defaults(func=_run_export)


# ---------------------------------------------------------------------------------------


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _summary(preset: Any) -> str:
    pos_files = sum(1 for c in preset.clips if c.role == "positive")
    neg_files = sum(1 for c in preset.clips if c.role == "negative")
    text = f"{preset.positive.count} clip(s) from {pos_files} example file(s)"
    if preset.negative.count:
        text += f", {preset.negative.count} negative clip(s) from {neg_files} file(s)"
    return text


def _check_output(output: str, force: bool) -> Path:
    path = Path(output)
    if path.suffix.lower() != ".json":
        raise UserError(f"output {output!r} must be a .json file, e.g. {str(path.with_suffix('.json'))!r}")
    if path.is_dir():
        raise UserError(f"output {output!r} is a folder: give a file name ending in .json")
    if path.exists() and not force:
        raise UserError(f"{output!r} already exists: choose another file, or pass --force to replace it")
    return path


def _run_create(args: argparse.Namespace) -> int:
    from fewshot_sep.presets import check_name, create_preset
    from fewshot_sep.presets.library import library_target, save_new_preset, save_to_library

    name = check_name(args.name)
    # Refuse a clash before the (slower) embedding work, not after.
    output = _check_output(args.output, args.force) if args.output else None
    if output is None:
        library_target(name, args.force)
    preset = create_preset(
        name, args.examples, args.negative, model=args.model, description=args.description,
        mode=args.mode, mix=args.mix, progress=not args.quiet and sys.stderr.isatty(), on_warning=_warn,
        strict=args.strict,
    )
    path = save_new_preset(preset, output, args.force) if output else save_to_library(preset, overwrite=args.force)
    print(f"saved preset {preset.name!r} ({_summary(preset)}) to {path}")
    if output is None:
        print(f"use it with --preset {preset.name!r}")
    return 0


def _load_editable(ref: str):
    from fewshot_sep.presets import load_ref

    preset, is_builtin = load_ref(ref)
    if is_builtin:
        raise UserError(
            f"built-in presets are read-only: copy {ref!r} into your library first with "
            f"`fewshot-sep preset import {ref} --name NEW_NAME`, then change the copy"
        )
    return preset


def _run_add(args: argparse.Namespace) -> int:
    from fewshot_sep.presets import add_examples
    from fewshot_sep.presets.library import update_preset_file

    preset = _load_editable(args.ref)
    output = _check_output(args.output, args.force) if args.output else Path(preset.source)
    # Embedded and saved under the folder's lock, from the version on disk then: an `add`
    # running at the same time waits, and adds to this one's result.
    updated = update_preset_file(
        Path(preset.source),
        lambda latest: add_examples(latest, args.examples, args.negative, model=args.model,
                                    progress=not args.quiet and sys.stderr.isatty(), on_warning=_warn,
                                    strict=args.strict),
        output=output, overwrite=args.force,
    )
    print(f"updated preset {updated.name!r}: now {_summary(updated)}; saved to {output}")
    return 0


def _run_set(args: argparse.Namespace) -> int:
    from fewshot_sep.contract.controls import check_mix, check_mode
    from fewshot_sep.presets.format import MAX_DESCRIPTION_CHARS, utc_now
    from fewshot_sep.presets.library import update_preset_file

    if args.mode is None and args.mix is None and args.description is None:
        raise UserError("nothing to change: give --mode, --mix and/or --description")
    preset = _load_editable(args.ref)
    mode = preset.default_mode if args.mode is None else args.mode
    mix = preset.default_mix if args.mix is None else args.mix
    check_mode(mode)
    check_mix(mix)
    if args.description is not None and len(args.description) > MAX_DESCRIPTION_CHARS:
        raise UserError(f"description is {len(args.description)} characters: keep it under {MAX_DESCRIPTION_CHARS}")

    def change(latest):  # applied to the version on disk, under the folder's lock
        latest.default_mode = latest.default_mode if args.mode is None else args.mode
        latest.default_mix = latest.default_mix if args.mix is None else float(args.mix)
        if args.description is not None:
            latest.description = args.description
        latest.modified = utc_now()
        return latest

    updated = update_preset_file(Path(preset.source), change)
    print(f"preset {updated.name!r}: mode {updated.default_mode}, mix {updated.default_mix:g}; saved to {preset.source}")
    return 0


def _current_model(model_arg: str | None):
    """(ModelFiles or None, note) — listing must work even when no model is installed."""
    from fewshot_sep.realtime.model_files import ModelFiles

    try:
        return ModelFiles.load(model_arg), ""
    except UserError as err:
        if model_arg is not None:
            raise
        return None, f"(model compatibility not checked: {err})"


def _compat(preset: Any, model: Any) -> str:
    if model is None:
        return "?"
    if preset.model_id == model.model_id and preset.embedding_dim == model.embedding_dim:
        return "ok"
    return "other model"


def _run_list(args: argparse.Namespace) -> int:
    from fewshot_sep.presets import library_dir, library_entries, list_builtins, load_preset

    model, note = _current_model(args.model)
    rows = []
    for source, entries in (("library", library_entries()), ("builtin", list(list_builtins().items()))):
        for name, path in entries:
            row: dict[str, Any] = {"name": ("builtin:" if source == "builtin" else "") + name, "source": source,
                                   "path": str(path)}
            try:
                preset = load_preset(path)
            except UserError as err:
                row.update(status="invalid", error=str(err))
            else:
                row.update(
                    status=_compat(preset, model), positive_clips=preset.positive.count,
                    negative_clips=preset.negative.count, mode=preset.default_mode, mix=preset.default_mix,
                    modified=preset.modified, model_id=preset.model_id,
                )
            rows.append(row)
    if args.json:
        print(json.dumps({"library": str(library_dir()), "model_id": model.model_id if model else None,
                          "presets": rows}, indent=1))
        return 0
    print(f"library: {library_dir()}")
    if not rows:
        print("no presets yet: make one with `fewshot-sep preset create NAME --examples A.wav B.wav`")
        return 0
    header = ("NAME", "CLIPS +/-", "MODE", "MIX", "MODEL", "MODIFIED")
    table = [header]
    for r in rows:
        if r["status"] == "invalid":
            table.append((r["name"], "-", "-", "-", "INVALID", "-"))
        else:
            table.append((r["name"], f"{r['positive_clips']}/{r['negative_clips']}", r["mode"], f"{r['mix']:g}",
                          r["status"], r["modified"]))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    for r in rows:
        if r["status"] == "invalid":
            print(f"\n{r['name']}: {r['error']}")
    if note:
        print(note)
    return 0


def _run_show(args: argparse.Namespace) -> int:
    from fewshot_sep.presets import load_ref

    from fewshot_sep.utils.text import terminal_safe as safe

    preset, is_builtin = load_ref(args.ref)
    if args.json:
        print(preset.to_text(), end="")
        return 0
    model, note = _current_model(args.model)
    compat = _compat(preset, model)
    lines = [
        f"name:         {safe(preset.name)}" + ("  (built-in)" if is_builtin else ""),
        f"file:         {safe(str(preset.source))}",
        f"description:  {safe(preset.description) or '-'}",
        f"model:        {preset.model_id} (embedding size {preset.embedding_dim})"
        + {"ok": " - matches the model in use", "other model": " - NOT the model in use"}.get(compat, ""),
        f"defaults:     mode {preset.default_mode}, mix {preset.default_mix:g}",
        f"created:      {preset.created}",
        f"modified:     {preset.modified}",
        f"examples:     {_summary(preset)}",
        "",
        "ROLE      CLIPS  SKIPPED  SECONDS  RATE   CH  FILE",
    ]
    for c in preset.clips:
        lines.append(f"{c.role:<8}  {c.n_clips:>5}  {c.n_skipped:>7}  {c.duration_s:>7.2f}  {c.sample_rate:>5}  "
                     f"{c.channels:>2}  {safe(c.spec())}")
    if compat == "other model" and not is_builtin:
        lines += ["", "this preset was made with another model; rebuild it with:", "  " + safe(preset.rebuild_command())]
    if note:
        lines += ["", note]
    print("\n".join(lines))
    return 0


def _run_rename(args: argparse.Namespace) -> int:
    from fewshot_sep.presets import rename_in_library

    path = rename_in_library(args.old, args.new, overwrite=args.force)
    print(f"renamed {args.old!r} to {path.stem!r} ({path})")
    return 0


def _run_delete(args: argparse.Namespace) -> int:
    from fewshot_sep.presets import delete_from_library

    path = delete_from_library(args.name)
    print(f"deleted {path}")
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from fewshot_sep.presets import import_preset

    path = import_preset(args.source, name=args.name, overwrite=args.force)
    print(f"imported {args.source} as {path.stem!r} ({path})")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from fewshot_sep.presets import export_preset

    if Path(args.output).suffix.lower() != ".json":
        raise UserError(f"output {args.output!r} must be a .json file")
    path = export_preset(args.ref, args.output, overwrite=args.force)
    print(f"exported {args.ref} to {path}")
    return 0
