"""`fewshot-sep export`: a trained checkpoint -> a verified ONNX model folder.

Torch is imported inside :func:`run` only (command modules must import without it).
See docs/export.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fewshot_sep.utils.errors import UserError

DESCRIPTION = """\
Export a trained model to ONNX: encoder.onnx (clip -> embedding), separator.onnx
(stateful streaming separator) and model_card.json, each graph checked against
torch (max abs diff < 1e-4) before anything is written. Needs torch
(pip install 'fewshot-sep[train]').

examples:
  fewshot-sep export runs/release --out my-model
  fewshot-sep export runs/release/checkpoint.pt --out my-model --preset fiddle.json
  fewshot-sep export configs/release.yaml --untrained --out /tmp/random-model
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export a checkpoint to an ONNX model folder (needs torch)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="CHECKPOINT_OR_RUN_DIR",
                   help="a training run folder (config.json + best.pt / checkpoint.pt) or a .pt file with config.json beside it; "
                        "with --untrained: a config file (.yaml/.json)")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="model folder to write (created)")
    p.add_argument("--preset", action="append", default=[], metavar="P.json",
                   help="also write separator_<name>.onnx with this preset's conditioning folded in "
                        "(a .json file, a library name or builtin:NAME; repeatable). The preset must have "
                        "been made with this very model (same model_id)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default: 17, the documented contract)")
    p.add_argument("--name", default=None, help="model name in the card (default: fewshot-sep-<run name>)")
    p.add_argument("--untrained", action="store_true",
                   help="export a randomly initialised model built from the config file SOURCE "
                        "(for plumbing tests; the card says training.status = untrained)")
    p.add_argument("--seed", type=int, default=0, help="weight seed for --untrained (default: 0)")
    p.add_argument("--latest", action="store_true",
                   help="for a run folder: export checkpoint.pt (the latest) instead of best.pt (best validation)")
    p.add_argument("--force", action="store_true", help="replace an existing model folder at --out")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def bake_requests(refs: list[str], out_dir: Path) -> list:
    """``BakeRequest``s for the presets named by ``refs`` (a path, a library name or ``builtin:NAME``).

    The model check happens in the exporter, against the id of the graphs it has just written.
    """
    from fewshot_sep.export import BakeRequest
    from fewshot_sep.presets import load_ref

    requests = []
    for ref in refs:
        preset, _ = load_ref(ref)
        requests.append(BakeRequest(
            name=preset.name, conditioning=preset.conditioning(), model_id=preset.model_id,
            embedding_dim=preset.embedding_dim,
            rebuild_hint=f"To rebuild it: {preset.rebuild_command()} --model {out_dir}",
        ))
    return requests


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401  (the clear message below beats an ImportError deep inside)
    except ImportError:
        raise UserError("export needs torch: install the training extra (pip install 'fewshot-sep[train]')") from None
    from fewshot_sep.export import export_model
    from fewshot_sep.export.source import load_source

    if args.opset < 17:
        raise UserError(f"--opset {args.opset} is too old: use 17 or newer (docs/internals.md fixes 17)")
    out_dir = Path(args.out).expanduser()
    source = load_source(Path(args.source).expanduser(), untrained=args.untrained, seed=args.seed,
                         which="latest" if args.latest else "best")
    bake = bake_requests(args.preset, out_dir)
    result = export_model(
        source.model, out_dir, config=source.config, name=args.name or source.name, training=source.training,
        bake=bake, opset=args.opset, force=args.force, show_progress=not args.quiet,
    )
    files = sorted(p.name for p in result.folder.iterdir())
    print(f"exported model {result.model_id} to {result.folder} ({', '.join(files)}); "
          f"ONNX matches torch within {result.report.max_diff:.2g} (limit {result.report.tolerance:g}, "
          f"{len(result.report.diffs)} checks)", file=sys.stdout)
    if source.training.get("status") == "untrained":
        print("note: this model is untrained (random weights); it only exercises the plumbing", file=sys.stderr)
    return 0
