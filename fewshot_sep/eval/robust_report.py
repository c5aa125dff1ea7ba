"""Tables and the plot of the robustness suite (`fewshot_sep.eval.robust`), and its results section.

The section lives in ``docs/results.md`` between the markers of
`fewshot_sep.eval.report` (``ROBUST_SECTION_START`` / ``_END``); the standard
results page keeps it when it is rewritten.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from fewshot_sep.eval.report import (ROBUST_SECTION_END as SECTION_END, ROBUST_SECTION_START as SECTION_START,
                                     SYSTEM_LABELS, SYSTEM_ORDER, paired_difference, replace_section)
from fewshot_sep.eval.robust import CONDITIONS, HEADLINE
from fewshot_sep.utils.atomic import write_text_atomic
from fewshot_sep.utils.metrics import bootstrap_median_ci

PLOT_NAME = "robustness.png"


def _ok(rows: Sequence[dict]) -> list[dict]:
    return [r for r in rows if r["status"] == "ok"]


def system_rows(rows: Sequence[dict]) -> list[tuple[str, int, str]]:
    """(system, k, negatives) of the table's rows, in display order."""
    keys = {(r["system"], int(r["k"]), r["negatives"]) for r in _ok(rows)}
    order = {"-": 0, "without": 1, "with": 2}
    return sorted(keys, key=lambda t: (SYSTEM_ORDER.index(t[0]) if t[0] in SYSTEM_ORDER else 99, t[1], order[t[2]]))


def _label(system: str, k: int, negatives: str) -> str:
    label = SYSTEM_LABELS.get(system, system)
    if negatives == "-":
        return label
    return f"{label}, k = {k}" + (", 3 negatives" if negatives == "with" else "")


def condition_columns(rows: Sequence[dict]) -> list[tuple[str, str]]:
    """(condition, seen) columns present in `rows`, in `CONDITIONS` order."""
    present = {(r["condition"], r["seen"]) for r in _ok(rows)}
    return [(c, s) for c in CONDITIONS for s in ("seen", "unseen") if (c, s) in present]


def _cell(rows: Sequence[dict], key: tuple[str, int, str], condition: str, seen: str) -> tuple[float, int]:
    values = [r["si_sdri"] for r in _ok(rows) if (r["system"], int(r["k"]), r["negatives"]) == key
              and r["condition"] == condition and r["seen"] == seen]
    return (float(np.median(values)), len(values)) if values else (float("nan"), 0)


def robust_markdown(rows: Sequence[dict], seed: int = 0) -> str:
    """The suite's tables: median SI-SDRi per system x condition, the headline with 95 %
    intervals, and the paired effect of negatives on confusable episodes."""
    columns = condition_columns(rows)
    lines = ["Median SI-SDRi (dB) per condition; `s` = seen instruments, `u` = unseen. "
             "Episodes per cell in the last row.", "",
             "| system | " + " | ".join(f"{c} {s[0]}" for c, s in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    counts: list[int] = []
    for key in system_rows(rows):
        cells = []
        for c, s in columns:
            median, n = _cell(rows, key, c, s)
            cells.append("" if n == 0 else f"{median:+.2f}")
            if key[0] == "mixture":
                counts.append(n)
        lines.append(f"| {_label(*key)} | " + " | ".join(cells) + " |")
    if counts:
        lines.append("| episodes | " + " | ".join(str(n) for n in counts) + " |")
    lines += ["", f"**Headline** (`{HEADLINE}`: held-out sources + effects + held-out music, 2-4 other instruments, "
              "pitched targets; `robust-drums`: the same with drum-kit targets), median SI-SDRi with a bootstrap "
              "95 % interval:", "", "| system | seen | unseen | drum kits |", "|---|---|---|---|"]
    for key in system_rows(rows):
        cells = []
        for condition, seen in ((HEADLINE, "seen"), (HEADLINE, "unseen"), ("robust-drums", "seen")):
            values = np.array([r["si_sdri"] for r in _ok(rows) if (r["system"], int(r["k"]), r["negatives"]) == key
                               and r["condition"] == condition and r["seen"] == seen])
            if len(values):
                m, lo, hi = bootstrap_median_ci(values, seed=seed)
                cells.append(f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}] (n={len(values)})")
            else:
                cells.append("")
        lines.append(f"| {_label(*key)} | " + " | ".join(cells) + " |")
    lines += ["", "**Negatives on confusable episodes** (one other instrument of the target's family in the mix; "
              "3 clips of it as negatives): paired median of (with - without) over the same episodes.", "",
              "| system, k | seen | unseen |", "|---|---|---|"]
    confusable = [r for r in rows if r["condition"] == "confusable"]
    for system, k in sorted({(s, k) for s, k, neg in system_rows(confusable) if neg == "with"}):
        cells = []
        for seen in ("seen", "unseen"):
            d = paired_difference(confusable, (system, k, "without"), (system, k, "with"), seen, seed=seed)
            cells.append("" if d is None else f"{d['diff_median']:+.2f} [{d['diff_low']:+.2f}, {d['diff_high']:+.2f}] (n={d['n']})")
        lines.append(f"| {SYSTEM_LABELS.get(system, system)}, k = {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _values(rows: Sequence[dict], condition: str, seen: str, key: tuple[str, int, str]) -> dict[str, float]:
    """SI-SDRi per episode (id without its condition, so conditions with the same draws pair up)."""
    return {r["episode"].split(":", 1)[-1]: r["si_sdri"] for r in _ok(rows) if r["condition"] == condition
            and r["seen"] == seen and (r["system"], int(r["k"]), r["negatives"]) == key}


def _paired_cell(a: dict[str, float], b: dict[str, float], seed: int) -> str:
    common = sorted(set(a) & set(b))
    if not common:
        return ""
    m, lo, hi = bootstrap_median_ci(np.array([b[e] - a[e] for e in common]), seed=seed)
    return f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def paired_markdown(rows: Sequence[dict], seed: int = 0) -> str:
    """Paired medians (per-episode differences, bootstrap 95 % intervals) of the questions the
    suite asks: do 5 examples beat 1, the few-shot model the one-hot baseline, the mean with the
    NMF mask the network alone; and (across conditions with the same mixtures) what generic
    examples cost against matched ones."""
    keys = set(system_rows(rows))
    k_ref = 5 if ("fewshot-onnx", 5, "without") in keys else max((k for s, k, _ in keys if s == "fewshot-onnx"), default=0)
    fewshot = ("fewshot-onnx", k_ref, "without")
    questions = [(f"k = {k_ref} minus k = 1", ("fewshot-onnx", 1, "without"), fewshot),
                 ("few-shot minus one-hot", ("onehot", 0, "-"), fewshot),
                 ("few-shot + NMF mean mask minus few-shot", fewshot, ("fewshot-nmf", k_ref, "without"))]
    questions = [q for q in questions if q[1] in keys and q[2] in keys]
    columns = condition_columns(rows)
    lines = ["**Paired differences** (median of per-episode SI-SDRi differences, dB, with a bootstrap 95 % "
             "interval; same episodes):", "",
             "| question | " + " | ".join(f"{c} {s[0]}" for c, s in columns) + " |", "|---|" + "---|" * len(columns)]
    for label, a, b in questions:
        cells = [_paired_cell(_values(rows, c, s, a), _values(rows, c, s, b), seed) for c, s in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    # Across conditions that draw the same episodes: the same mixtures (robust / robust-generic),
    # or the same targets, pieces and gains in another render (in-domain / source; a crop start
    # can differ where the two renders' activity differs).
    pairs = [("robust", "robust-generic", "Generic minus matched examples (`robust-generic` minus `robust`, the same "
              "mixtures)"),
             ("in-domain", "source", "Held-out minus training sound source (`source` minus `in-domain`, the same "
              "draws)")]
    for first, second, text in pairs if fewshot in keys else []:
        cells = [_paired_cell(_values(rows, first, s, fewshot), _values(rows, second, s, fewshot), seed)
                 for s in ("seen", "unseen")]
        if any(cells):
            lines += ["", f"{text}, few-shot k = {k_ref}: seen {cells[0] or 'n/a'}, unseen {cells[1] or 'n/a'} dB."]
    return "\n".join(lines)


def robust_plot(rows: Sequence[dict], out_dir: str | os.PathLike) -> Path:
    """Grouped bars of median SI-SDRi per condition (seen and unseen panels); returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = [k for k in system_rows(rows) if k[0] != "mixture" and k[2] != "with"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
    for ax, seen in zip(axes, ("seen", "unseen")):
        conditions = [c for c in CONDITIONS if any(r["condition"] == c and r["seen"] == seen for r in _ok(rows))]
        width = 0.8 / max(1, len(keys))
        for i, key in enumerate(keys):
            values = [_cell(rows, key, c, seen)[0] for c in conditions]
            ax.bar(np.arange(len(conditions)) + i * width, values, width, label=_label(*key))
        ax.set_xticks(np.arange(len(conditions)) + 0.4 - width / 2)
        ax.set_xticklabels(conditions, rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{seen} instruments")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("median SI-SDRi (dB)")
    axes[1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = out / PLOT_NAME
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def robust_section(rows: Sequence[dict], run_info: dict, seed: int = 0) -> str:
    """The Markdown section for ``docs/results.md`` (between the markers)."""
    return "\n".join([
        SECTION_START,
        "## Robustness suite",
        "",
        "Episodes like a producer's music (docs/evaluation.md, \"Robustness suite\"): held-out sound sources "
        "(FreePats, AVL drum kits), effect chains on stems and bus processing on mixes, held-out music, denser "
        "mixes, confusable interferers. Generated by:",
        "",
        f"`{run_info.get('command', '')}`",
        "",
        f"Model `{run_info.get('model_name', '')}` id `{run_info.get('model_id', '')}`, "
        f"{run_info.get('date', '')}; {run_info.get('seconds', 0):.0f} s wall with {run_info.get('workers', '')} "
        f"worker(s) for {run_info.get('episodes_evaluated_now', '')} episodes ({run_info.get('episodes_resumed', 0)} "
        f"more resumed from an earlier call), {run_info.get('cpu_seconds_per_episode', float('nan')):.1f} CPU s per "
        "episode (all systems and conditions).",
        "",
        robust_markdown(rows, seed=seed),
        "",
        paired_markdown(rows, seed=seed),
        "",
        f"![robustness](results/{PLOT_NAME})",
        SECTION_END,
    ])


def write_robust_results(path: str | os.PathLike, rows: Sequence[dict], run_info: dict, plot: Path,
                         seed: int = 0) -> Path:
    """Put the suite's section (and its plot under ``results/``) into the page at `path`."""
    import shutil

    from fewshot_sep.utils.atomic import atomic_path

    path = Path(path)
    dest = path.parent / "results" / PLOT_NAME
    dest.parent.mkdir(parents=True, exist_ok=True)
    if plot.resolve() != dest.resolve():
        with atomic_path(dest) as tmp:
            shutil.copyfile(plot, tmp)
    page = path.read_text(encoding="utf-8") if path.is_file() else "# Evaluation results\n"
    write_text_atomic(path, replace_section(page, robust_section(rows, run_info, seed)))
    return path


__all__ = ["robust_markdown", "paired_markdown", "robust_plot", "robust_section", "write_robust_results"]
