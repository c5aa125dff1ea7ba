"""Print a training run's validation curve as a Markdown table (for docs/model-card.md).

    python scripts/training_curve.py runs/release runs/release2      # stages in order
    python scripts/training_curve.py runs/onehot --plot docs/results/curve_onehot.png

Reads each run's ``log.csv`` (written by ``fewshot-sep train``). Several run
folders are read as consecutive stages: steps, episodes and hours continue
from the previous stage's last logged row. Runs with ``train.ema_decay`` log
the averaged weights' score as the median and the raw weights' beside it; the
table then has a column for the raw one. ``--plot`` also draws the
validation median against episodes (matplotlib, the ``train`` extra).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def read_stages(run_dirs: list[Path]) -> list[dict[str, float | str]]:
    """Validation rows of all stages, with cumulative ``step``, ``episodes`` and ``hours``."""
    rows: list[dict[str, float | str]] = []
    step0 = episodes0 = seconds0 = 0.0
    for run in run_dirs:
        log = run / "log.csv"
        if not log.is_file():
            raise SystemExit(f"{log} does not exist: give training run folders (fewshot-sep train ... --run-dir DIR)")
        with open(log, newline="", encoding="utf-8") as fh:
            entries = list(csv.DictReader(fh))
        if not entries:
            continue
        for entry in entries:
            if entry.get("val_sisdri_median"):
                rows.append({"stage": run.name, "step": step0 + float(entry["step"]),
                             "episodes": episodes0 + float(entry["episodes"]),
                             "hours": (seconds0 + float(entry["elapsed_s"])) / 3600.0,
                             "median": float(entry["val_sisdri_median"]), "mean": float(entry["val_sisdri_mean"]),
                             "n": entry["val_episodes"], "raw": entry.get("val_raw_sisdri_median") or ""})
        last = entries[-1]
        step0 += float(last["step"])
        episodes0 += float(last["episodes"])
        seconds0 += float(last["elapsed_s"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders, earliest stage first")
    parser.add_argument("--plot", type=Path, default=None, help="also save a PNG of the curve here")
    args = parser.parse_args(argv)
    rows = read_stages(args.runs)
    with_raw = any(r["raw"] for r in rows)
    raw_head, raw_rule = (" raw weights' median (dB) |", "---:|") if with_raw else ("", "")
    print(f"| stage | step | episodes | hours | val SI-SDRi median (dB) | mean (dB) | episodes in val |{raw_head}")
    print(f"|---|---:|---:|---:|---:|---:|---:|{raw_rule}")
    best = {}  # per stage: stages may validate on different episode counts
    for r in rows:
        best[r["stage"]] = max(best.get(r["stage"], r["median"]), r["median"])
    for r in rows:
        mark = " (best)" if r["median"] == best[r["stage"]] else ""
        print(f"| {r['stage']} | {int(r['step']):,} | {int(r['episodes']):,} | {r['hours']:.2f} | "
              f"{r['median']:+.2f}{mark} | {r['mean']:+.2f} | {r['n']} |"
              + (f" {float(r['raw']):+.2f} |" if r["raw"] else " – |" if with_raw else ""))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for stage in dict.fromkeys(r["stage"] for r in rows):
            sel = [r for r in rows if r["stage"] == stage]
            ax.plot([r["episodes"] for r in sel], [r["median"] for r in sel], "o-", label=str(stage))
        ax.set_xlabel("training episodes")
        ax.set_ylabel("validation median SI-SDRi (dB)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=100)
        print(f"\nplot: {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
