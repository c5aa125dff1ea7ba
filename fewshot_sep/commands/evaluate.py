"""`fewshot-sep evaluate`: the paper-style evaluation (needs the `train` extra: torch, fast_bss_eval, matplotlib).

Heavy imports (torch, onnxruntime, matplotlib) happen inside `run`, so the CLI
starts without them.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fewshot_sep.utils.errors import UserError

# Other instruments per mixture (issue 3's protocol). Not imported from fewshot_sep.eval.harness,
# which holds the same default (tests/commands/test_eval_cli.py checks they agree): command modules are
# imported by every CLI start, also in the standalone app, which leaves the eval layer out.
DEFAULT_INTERFERERS = (2, 4)

_SYSTEMS = ("fewshot-onnx", "fewshot-stream", "fewshot-torch", "onehot", "mixture", "oracle", "nmf", "fewshot-nmf")
_DEFAULT_SYSTEMS = {"standard": ("fewshot-onnx", "fewshot-stream", "fewshot-torch", "onehot", "mixture", "oracle"),
                    "robust": ("fewshot-onnx", "onehot", "mixture", "oracle", "nmf", "fewshot-nmf")}
_DEFAULT_DATA = {"standard": "data/render", "robust": "data/robust"}
_REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CHECKPOINTS = ("models/release", "runs/release")
DEFAULT_ONEHOT_CHECKPOINTS = ("models/onehot", "runs/onehot")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` command."""
    p = subparsers.add_parser(
        "evaluate",
        help="measure separation quality (SI-SDRi, SDR) on held-out episodes",
        description="Evaluate the few-shot separator on episodes drawn from a rendered test set: k in "
        "{1,3,5,10} examples, with/without negatives, seen/unseen instruments; ONNX offline, ONNX "
        "streaming and torch; reference rows mixture, oracle ideal ratio mask and the one-hot baseline. "
        "Writes episodes.csv, summary.md, plots and a listening page into --out. See docs/evaluation.md.",
    )
    p.add_argument("--suite", choices=("standard", "robust"), default="standard",
                   help="standard: episodes of --data's splits (the paper's protocol); robust: the robustness "
                   "suite's conditions on the robust set (held-out sources, effects, held-out music, density, "
                   "confusable; docs/evaluation.md) (default: standard)")
    p.add_argument("--conditions", nargs="+", default=None, metavar="CONDITION",
                   help="robust suite: conditions to run (default: all of in-domain source effects music density "
                   "confusable robust robust-generic robust-drums)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="dataset folder with manifest.csv (default: data/render; data/robust with --suite robust, "
                   "made by `fewshot-sep data render-robust`)")
    p.add_argument("--split", nargs="+", default=["test", "test_unseen"], metavar="SPLIT",
                   help="splits to draw targets from: test (seen instruments, held-out pieces), "
                   "test_unseen (unseen instruments), val (default: test test_unseen)")
    p.add_argument("--episodes", type=int, default=100, help="episodes per split (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="episode seed (default: 0)")
    p.add_argument("--k", nargs="+", type=int, default=[1, 3, 5, 10], metavar="K",
                   help="numbers of example clips (default: 1 3 5 10)")
    p.add_argument("--negatives", choices=("both", "with", "without"), default="both",
                   help="conditions with/without 3 negative clips of an instrument in the mix (default: both)")
    p.add_argument("--systems", nargs="+", default=None, metavar="SYSTEM",
                   help=f"systems to run, from: {' '.join(_SYSTEMS)} (default: all but nmf whose model or "
                   "checkpoint exists; the robust suite: fewshot-onnx onehot mixture oracle nmf fewshot-nmf)")
    p.add_argument("--checkpoint", metavar="RUN", default=None,
                   help="few-shot torch run folder or checkpoint.pt for fewshot-torch "
                   f"(default: the first of {', '.join(DEFAULT_CHECKPOINTS)} that exists)")
    p.add_argument("--onehot-checkpoint", metavar="RUN", default=None,
                   help=f"one-hot baseline run folder (default: the first of {', '.join(DEFAULT_ONEHOT_CHECKPOINTS)} that exists)")
    p.add_argument("--model", metavar="DIR", default=None,
                   help="ONNX model folder for fewshot-onnx/-stream (default: $FEWSHOT_SEP_MODEL or the packaged model)")
    p.add_argument("--workers", type=int, default=2, help="worker processes, one thread each (default: 2)")
    p.add_argument("--out", metavar="DIR", default="runs/eval",
                   help="output folder; rerunning with the same settings resumes (default: runs/eval)")
    p.add_argument("--seconds", type=float, default=4.0, help="mixture excerpt length in seconds (default: 4)")
    p.add_argument("--support-seconds", type=float, default=None,
                   help="length of each example / negative clip (default: the model card's clip_seconds, "
                   "the length a preset cuts examples into; without an ONNX system, the fewshot-torch run's "
                   "data.support_seconds; else 3)")
    p.add_argument("--interferers", type=int, nargs=2, default=list(DEFAULT_INTERFERERS), metavar=("LOW", "HIGH"),
                   help="other instruments per mixture, drawn uniformly from LOW..HIGH "
                   f"(default: {DEFAULT_INTERFERERS[0]} {DEFAULT_INTERFERERS[1]}, the protocol of the model card's figures; "
                   "the robust suite's conditions set their own)")
    p.add_argument("--block-size", type=int, default=256,
                   help="block size of the streaming system in samples (default: 256)")
    p.add_argument("--stream-conditions", choices=("reference", "all"), default="reference",
                   help="conditions the (slow, block-wise) streaming system runs: only the reference one "
                   "(k=5 without negatives) or all (default: reference)")
    p.add_argument("--listen", type=int, default=2, metavar="N",
                   help="episodes per split with audio on the listening page (default: 2)")
    p.add_argument("--results-md", metavar="FILE", default=None,
                   help="also write a results page (e.g. docs/results.md; plots go to results/ beside it)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _resolve(path: str | None, defaults: tuple[str, ...]) -> tuple[Path, bool]:
    """(path, explicitly given). Relative defaults are looked up in the cwd, then the repo
    root; the first that exists wins (else the first default, reported as missing later)."""
    if path is not None:
        return Path(path).expanduser(), True
    for default in defaults:
        for candidate in (Path(default), _REPO_ROOT / default):
            if candidate.exists():
                return candidate, False
    return Path(defaults[0]), False


def _checkpoint_exists(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.glob("*.pt")))


def run(args: argparse.Namespace) -> int:
    """Run the evaluation and write its outputs; returns the exit code."""
    try:
        import fast_bss_eval  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise UserError(f"evaluate needs the train extra ({exc.name} is missing): pip install 'fewshot-sep[train]'") from exc
    from fewshot_sep.eval.harness import EvalSettings, run_evaluation
    from fewshot_sep.eval.robust import DEFAULT_CONDITIONS
    from fewshot_sep.eval.outputs import write_outputs

    data, _ = _resolve(args.data, (_DEFAULT_DATA[args.suite],))
    if not (data / "manifest.csv").is_file():
        render = "data render-robust" if args.suite == "robust" else "data render"
        raise UserError(f"--data {data} has no manifest.csv: render a dataset (fewshot-sep {render} --out {data}) "
                        "or pass a folder of stems with a manifest in that format")
    checkpoint, _ = _resolve(args.checkpoint, DEFAULT_CHECKPOINTS)
    onehot, _ = _resolve(args.onehot_checkpoint, DEFAULT_ONEHOT_CHECKPOINTS)

    notes: list[str] = []
    if args.systems is None:
        systems = list(_DEFAULT_SYSTEMS[args.suite])
        if "fewshot-torch" in systems and not _checkpoint_exists(checkpoint):
            systems.remove("fewshot-torch")
            notes.append(f"fewshot-torch skipped: no checkpoint at {checkpoint} (pass --checkpoint RUN)")
        if "onehot" in systems and not _checkpoint_exists(onehot):
            systems.remove("onehot")
            notes.append(f"onehot skipped: no checkpoint at {onehot} (pass --onehot-checkpoint RUN)")
        try:
            from fewshot_sep.realtime.model_files import ModelFiles

            ModelFiles.load(args.model)
        except UserError as exc:
            systems = [s for s in systems if s not in ("fewshot-onnx", "fewshot-stream")]
            notes.append(f"fewshot-onnx/-stream skipped: {exc}")
    else:
        systems = list(dict.fromkeys(args.systems))
        bad = [s for s in systems if s not in _SYSTEMS]
        if bad:
            raise UserError(f"--systems {' '.join(bad)} is invalid: choose from {' '.join(_SYSTEMS)}")
        if "fewshot-torch" in systems and not _checkpoint_exists(checkpoint):
            raise UserError(f"fewshot-torch needs a checkpoint: {checkpoint} has none; pass --checkpoint RUN")
        if "onehot" in systems and not _checkpoint_exists(onehot):
            raise UserError(f"onehot needs a checkpoint: {onehot} has none; pass --onehot-checkpoint RUN")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not systems:
        raise UserError("no system to evaluate")

    support_seconds = args.support_seconds
    support_origin = "--support-seconds"
    if support_seconds is None:
        # the clip length the model was trained on: the ONNX card's, else the torch run's config
        support_seconds, support_origin = 3.0, "the default example length"
        if any(s in systems for s in ("fewshot-onnx", "fewshot-stream")):
            from fewshot_sep.realtime.model_files import ModelFiles

            support_seconds = ModelFiles.load(args.model).clip_seconds
            support_origin = f"the example length of {args.model}'s model card"
        elif "fewshot-torch" in systems:
            from fewshot_sep.export.card import clip_lengths
            from fewshot_sep.runs.checkpoint import read_run_config

            support_seconds = clip_lengths(read_run_config(checkpoint))[0]
            support_origin = f"data.support_seconds of {checkpoint}'s run config"
    if not (0.5 <= support_seconds <= 30):
        raise UserError(f"{support_origin} ({support_seconds:g} s) is invalid for evaluation: examples of "
                        "0.5..30 s are supported; pass --support-seconds S in that range (and at least the "
                        "model's min_clip_seconds)")
    settings = EvalSettings(
        data=str(data), splits=list(dict.fromkeys(args.split)), episodes=args.episodes, seed=args.seed,
        ks=sorted(set(args.k)), negatives=args.negatives, systems=systems,
        checkpoint=str(checkpoint) if "fewshot-torch" in systems else None,
        onehot_checkpoint=str(onehot) if "onehot" in systems else None,
        model=args.model, seconds=args.seconds, support_seconds=support_seconds, interferers=list(args.interferers),
        block_size=args.block_size,
        stream_conditions=args.stream_conditions, listen=args.listen, suite=args.suite,
        conditions=list(dict.fromkeys(args.conditions)) if args.conditions else (
            list(DEFAULT_CONDITIONS) if args.suite == "robust" else []),
    )
    command = canonical_command(settings, args)
    outcome = run_evaluation(settings, args.out, workers=args.workers, progress=not args.quiet)
    paths = write_outputs(settings, outcome, args.out, command, args.workers, results_md=args.results_md)
    ok = sum(1 for r in outcome.rows if r["status"] == "ok")
    print(f"evaluated {len(set(r['episode'] for r in outcome.rows))} episodes ({ok} rows) in {outcome.seconds:.0f} s; "
          f"wrote {paths['csv']}, {paths['summary']}, {paths['listen']}"
          + (f", {paths['results_md']}" if "results_md" in paths else ""))
    return 0


def canonical_command(settings, args: argparse.Namespace) -> str:
    """The full command line (every option explicit) that reproduces this run."""
    parts = ["fewshot-sep", "evaluate", *(["--suite", "robust", "--conditions", *settings.conditions]
                                          if settings.suite == "robust" else []),
             "--data", settings.data, "--split", *settings.splits,
             "--episodes", str(settings.episodes), "--seed", str(settings.seed), "--k", *map(str, settings.ks),
             "--negatives", settings.negatives, "--systems", *settings.systems]
    if settings.checkpoint:
        parts += ["--checkpoint", settings.checkpoint]
    if settings.onehot_checkpoint:
        parts += ["--onehot-checkpoint", settings.onehot_checkpoint]
    if settings.model:
        parts += ["--model", settings.model]
    parts += ["--seconds", f"{settings.seconds:g}", "--support-seconds", f"{settings.support_seconds:g}",
              "--interferers", *map(str, settings.interferers), "--block-size", str(settings.block_size),
              "--stream-conditions", settings.stream_conditions, "--listen", str(settings.listen),
              "--workers", str(args.workers), "--out", str(args.out)]
    if args.results_md:
        parts += ["--results-md", str(args.results_md)]
    return shlex.join(parts)
