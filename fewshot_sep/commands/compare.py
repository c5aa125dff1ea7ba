"""`fewshot-sep compare`: models evaluated on the same episodes, paired per episode.

Each argument after the first is compared with the first (the baseline): per
instrument group (seen / unseen), the episodes both evaluated, the two medians of
SI-SDRi and the median of the per-episode difference with its bootstrap 95 %
interval, in dB. ``--write FILE --section NAME`` puts the Markdown table into a
generated section of a doc (between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``),
``--plot PNG`` draws the paired differences. Needs the ``train`` extra (the
evaluation layer); heavy imports happen inside ``run``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

from fewshot_sep.utils.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `compare` command."""
    p = subparsers.add_parser(
        "compare",
        help="compare evaluations of several models on the same episodes (paired medians)",
        description="Compare `fewshot-sep evaluate` runs made with the same episode settings, each against "
        "the first, paired per episode (bootstrap 95 %% intervals). See docs/evaluation.md.",
    )
    p.add_argument("baseline", type=Path, help="episodes.csv of the baseline evaluation")
    p.add_argument("others", type=Path, nargs="+", help="episodes.csv of the evaluations to compare with it")
    p.add_argument("--names", nargs="+", default=None,
                   help="a name for the baseline and each other evaluation (default: their folder names)")
    p.add_argument("--system", default="fewshot-torch", help="system rows to compare (default: fewshot-torch)")
    p.add_argument("--condition", default=None, help="robust suite: the condition to compare (e.g. robust)")
    p.add_argument("--k", type=int, default=5, help="number of examples (default: 5)")
    p.add_argument("--negatives", choices=("with", "without"), default="without",
                   help="rows with or without negatives (default: without)")
    p.add_argument("--write", type=Path, default=None, metavar="FILE",
                   help="also put the table into FILE's generated section --section")
    p.add_argument("--section", default="compare", help="name of the generated section (default: compare)")
    p.add_argument("--plot", type=Path, default=None, metavar="PNG", help="also draw the paired differences")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fewshot_sep.eval.report import paired_difference, read_rows_csv, write_generated_section

    paths = [args.baseline, *args.others]
    names = args.names or [p.parent.name or str(p) for p in paths]
    if len(names) != len(paths):
        raise UserError(f"--names gives {len(names)} names for {len(paths)} evaluations: give one per episodes.csv")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.section):
        raise UserError(f"--section {args.section!r} is invalid: use lower-case letters, digits and '-'")
    rows = []
    for index, path in enumerate(paths):
        if not path.is_file():
            raise UserError(f"{path} does not exist: give the episodes.csv that `fewshot-sep evaluate` wrote")
        rows += [{**r, "system": f"{index}:{r['system']}"} for r in read_rows_csv(path)
                 if r["system"] == args.system and (args.condition is None or r.get("condition") == args.condition)]
    if not rows:
        raise UserError(f"no {args.system} rows{' in condition ' + args.condition if args.condition else ''}: "
                        "check --system and --condition against the episodes.csv files")
    table = [f"Paired on the same episodes: {args.system}, k = {args.k}, {args.negatives} negatives"
             + (f", condition {args.condition}" if args.condition else "") + "; median SI-SDRi (dB) and the "
             "median per-episode difference from the first row's model with its bootstrap 95 % interval.", "",
             f"| model | instruments | episodes | {names[0]} | model | difference [95 % CI] |",
             "|---|---|---:|---:|---:|---|"]
    points: list[tuple[str, str, dict]] = []
    for index in range(1, len(paths)):
        for seen in ("seen", "unseen"):
            d = paired_difference(rows, (f"0:{args.system}", args.k, args.negatives),
                                  (f"{index}:{args.system}", args.k, args.negatives), seen)
            if d is None:
                continue
            points.append((names[index], seen, d))
            table.append(f"| {names[index]} | {seen} | {d['n']} | {d['a_median']:+.2f} | {d['b_median']:+.2f} | "
                         f"{d['diff_median']:+.2f} [{d['diff_low']:+.2f}, {d['diff_high']:+.2f}] |")
    if not points:
        raise UserError("no episode is in both the baseline and another evaluation: were they run with the same "
                        "--data/--split/--episodes/--seed/--k settings?")
    command = "fewshot-sep compare " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    text = "\n".join(table) + "\n"
    print(text, end="")
    if args.write is not None:
        write_generated_section(args.write, args.section, command, text)
        print(f"wrote the table into {args.write} (section {args.section})", file=sys.stderr)
    if args.plot is not None:
        _plot(points, names[0], args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _plot(points: list[tuple[str, str, dict]], baseline: str, path: Path) -> None:
    """Paired differences with their intervals, one marker per model and instrument group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fewshot_sep.utils.atomic import atomic_path

    models = list(dict.fromkeys(name for name, _, _ in points))
    fig, ax = plt.subplots(figsize=(1.2 * len(models) + 3, 3.2))
    for offset, seen in ((-0.1, "seen"), (0.1, "unseen")):
        xs, ys, lo, hi = [], [], [], []
        for name, group, d in points:
            if group == seen:
                xs.append(models.index(name) + offset)
                ys.append(d["diff_median"])
                lo.append(d["diff_median"] - d["diff_low"])
                hi.append(d["diff_high"] - d["diff_median"])
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, label=f"{seen} instruments")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xticks(range(len(models)), models)
    ax.set_ylabel(f"SI-SDRi minus {baseline} (dB)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
