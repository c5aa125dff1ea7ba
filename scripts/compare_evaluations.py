"""Compare two models evaluated on the same test episodes (two `fewshot-sep evaluate` runs with
the same --data/--split/--episodes/--seed/--k/--interferers settings), paired per episode.

    python scripts/compare_evaluations.py runs/eval-stage4/episodes.csv runs/eval-results/episodes.csv \\
        --names "stage 4" "stage 8" [--system fewshot-torch]

Prints a Markdown table per (instruments, k, negatives): episodes in both, the two medians of
SI-SDRi and the median of the per-episode difference (second minus first) with its bootstrap
95 % interval, in dB. Episodes are matched by id; a run whose episodes differ (other settings)
shares few or no ids, and the table says how many it matched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fewshot_sep.eval.report import paired_difference, read_rows_csv  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", help="episodes.csv of the first evaluation")
    parser.add_argument("second", help="episodes.csv of the second evaluation")
    parser.add_argument("--names", nargs=2, default=["first", "second"], help="column names of the two")
    parser.add_argument("--system", default="fewshot-torch", help="system rows to compare (default fewshot-torch)")
    args = parser.parse_args(argv)
    rows = []
    for tag, path in (("a", args.first), ("b", args.second)):
        rows += [{**r, "system": f"{tag}:{r['system']}"} for r in read_rows_csv(path) if r["system"] == args.system]
    conditions = sorted({(r["seen"], r["k"], r["negatives"]) for r in rows})
    print(f"| instruments | k | negatives | n | {args.names[0]} | {args.names[1]} | difference [95 % CI] |")
    print("|---|---:|---|---:|---:|---:|---|")
    for seen, k, negatives in conditions:
        d = paired_difference(rows, (f"a:{args.system}", k, negatives), (f"b:{args.system}", k, negatives), seen)
        if d is None:
            continue
        print(f"| {seen} | {k} | {negatives} | {d['n']} | {d['a_median']:+.2f} | {d['b_median']:+.2f} | "
              f"{d['diff_median']:+.2f} [{d['diff_low']:+.2f}, {d['diff_high']:+.2f}] |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
