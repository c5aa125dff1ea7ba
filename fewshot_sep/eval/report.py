"""Tables and plots from the per-episode rows of an evaluation.

A row (one episode x system x condition, the columns of `ROW_COLUMNS`) holds
the metrics of one estimate. Reference systems (mixture, oracle, onehot) do
not depend on the examples, so their rows have ``k = 0`` and ``negatives = "-"``.

- :func:`summarise`: medians with bootstrap 95 % intervals per group;
- :func:`markdown_summary`: the Markdown tables (main, per family, per instrument);
- :func:`make_plots`: PNG figures (SI-SDRi vs k, per-family boxes, few-shot vs one-hot);
- :func:`write_results_markdown`: ``docs/results.md``-style page with the tables,
  the plots, the command, model id and date.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from fewshot_sep.data.gm import DRUM_FAMILY
from fewshot_sep.utils.atomic import atomic_path, write_text_atomic
from fewshot_sep.utils.metrics import bootstrap_median_ci

ROW_COLUMNS = (
    "episode", "split", "seen", "target_instrument", "target_name", "family", "soundfont", "work_id",
    "n_interferers", "interferers", "negative_instrument", "system", "k", "negatives", "status",
    "si_sdr", "si_sdr_mixture", "si_sdri", "sdr", "onehot_class", "seconds", "condition",
)
"""Columns of ``episodes.csv`` (see docs/evaluation.md for their meaning)."""

SYSTEM_ORDER = ("mixture", "oracle", "nmf", "onehot", "fewshot-torch", "fewshot-onnx", "fewshot-stream", "fewshot-nmf")
SYSTEM_LABELS = {
    "mixture": "mixture (lower ref.)",
    "oracle": "oracle IRM (upper ref.)",
    "onehot": "one-hot baseline",
    "nmf": "semi-supervised NMF (classical)",
    "fewshot-nmf": "few-shot + NMF, mean mask",
    "fewshot-torch": "few-shot, torch checkpoint",
    "fewshot-onnx": "few-shot, ONNX offline",
    "fewshot-stream": "few-shot, ONNX streaming",
}


# ----------------------------------------------------------------------------- CSV


def write_rows_csv(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Write rows (dicts with `ROW_COLUMNS`) to CSV atomically; floats with 4 decimals."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(ROW_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        out = {}
        for key in ROW_COLUMNS:
            value = row.get(key, "")
            out[key] = f"{value:.4f}" if isinstance(value, float) and np.isfinite(value) else ("" if isinstance(value, float) else value)
        writer.writerow(out)
    write_text_atomic(path, buf.getvalue())


def read_rows_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of an ``episodes.csv`` with numeric columns parsed (empty metric -> NaN)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("target_instrument", "n_interferers", "k"):
            row[key] = int(row[key])
        for key in ("si_sdr", "si_sdr_mixture", "si_sdri", "sdr", "seconds"):
            row[key] = float(row[key]) if row[key] != "" else float("nan")
    return rows


# ----------------------------------------------------------------------------- summaries


def _ok(rows: Iterable[dict]) -> list[dict]:
    return [r for r in rows if r["status"] == "ok"]


def summarise(rows: Sequence[dict], keys: Sequence[str], seed: int = 0) -> list[dict]:
    """Median and 95 % bootstrap interval of si_sdri, sdr and si_sdr per group of `keys`.

    Returns one dict per group (sorted), with the key values, ``n`` and
    ``{metric}_median``, ``{metric}_low``, ``{metric}_high`` for each metric.
    Only rows with ``status == "ok"`` count.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in _ok(rows):
        groups[tuple(row[k] for k in keys)].append(row)
    out = []
    for key in sorted(groups, key=lambda t: tuple(_sort_key(k, v) for k, v in zip(keys, t))):
        members = groups[key]
        entry = dict(zip(keys, key))
        entry["n"] = len(members)
        for metric in ("si_sdri", "sdr", "si_sdr"):
            m, lo, hi = bootstrap_median_ci(np.array([r[metric] for r in members]), seed=seed)
            entry[f"{metric}_median"], entry[f"{metric}_low"], entry[f"{metric}_high"] = m, lo, hi
        out.append(entry)
    return out


def _sort_key(key: str, value):
    if key == "system":
        return SYSTEM_ORDER.index(value) if value in SYSTEM_ORDER else len(SYSTEM_ORDER)
    if key == "seen":
        return 0 if value == "seen" else 1
    if key == "negatives":
        return {"-": 0, "without": 1, "with": 2}.get(value, 3)
    return value


def reference_condition(rows: Sequence[dict]) -> tuple[int, str]:
    """The (k, negatives) used for per-family / per-instrument tables: k = 5 without
    negatives when evaluated, else the largest k, preferring "without"."""
    conds = {(r["k"], r["negatives"]) for r in rows if r["system"].startswith("fewshot")}
    if not conds:
        return 0, "-"
    if (5, "without") in conds:
        return 5, "without"
    top_k = max(k for k, _ in conds)
    return (top_k, "without") if (top_k, "without") in conds else (top_k, "with")


def primary_fewshot_system(rows: Sequence[dict]) -> str | None:
    """The few-shot system shown in per-family plots: ONNX offline, else torch, else streaming."""
    present = {r["system"] for r in rows}
    for name in ("fewshot-onnx", "fewshot-torch", "fewshot-stream"):
        if name in present:
            return name
    return None


def _db(value: float) -> str:
    """``+1.23`` style, without a "-0.00" for tiny negative values."""
    return f"{round(value, 2) + 0.0:+.2f}"


def _fmt(entry: dict, metric: str) -> str:
    m = entry[f"{metric}_median"]
    if not np.isfinite(m):
        return "–"
    return f"{_db(m)} [{_db(entry[f'{metric}_low'])}, {_db(entry[f'{metric}_high'])}]"


def paired_difference(rows: Sequence[dict], a: tuple[str, int, str], b: tuple[str, int, str], seen: str,
                      seed: int = 0) -> dict | None:
    """SI-SDRi of condition ``b`` minus condition ``a`` on the episodes that have both.

    A condition is ``(system, k, negatives)`` (reference systems: ``k = 0``,
    negatives ``"-"``). Returns ``n``, the two medians and the median of the
    per-episode differences with its bootstrap 95 % interval
    (``diff_median``, ``diff_low``, ``diff_high``), or None when no episode has both.
    """
    def values(cond: tuple[str, int, str]) -> dict[str, float]:
        system, k, negatives = cond
        return {r["episode"]: r["si_sdri"] for r in _ok(rows)
                if r["seen"] == seen and r["system"] == system and r["k"] == k and r["negatives"] == negatives}

    va, vb = values(a), values(b)
    common = sorted(set(va) & set(vb))
    if not common:
        return None
    xa = np.array([va[e] for e in common])
    xb = np.array([vb[e] for e in common])
    diff, low, high = bootstrap_median_ci(xb - xa, seed=seed)
    return {"n": len(common), "a_median": float(np.median(xa)), "b_median": float(np.median(xb)),
            "diff_median": diff, "diff_low": low, "diff_high": high}


def _paired_section(rows: Sequence[dict], fewshot: str | None, seed: int) -> list[str]:
    """The issue's comparisons, each on the same episodes: more shots, negatives, few-shot vs one-hot."""
    if fewshot is None:
        return []
    conds = {(r["k"], r["negatives"]) for r in rows if r["system"] == fewshot}
    label = SYSTEM_LABELS.get(fewshot, fewshot)
    checks: list[tuple[str, tuple[str, int, str], tuple[str, int, str]]] = []
    for k in sorted(k for k, n in conds if n == "without" and k != 5):
        if (5, "without") in conds:
            checks.append((f"k = 5 vs k = {k}", (fewshot, k, "without"), (fewshot, 5, "without")))
    if (5, "with") in conds and (5, "without") in conds:
        checks.append(("k = 5: with 3 negatives vs without (episodes that have negatives)",
                       (fewshot, 5, "without"), (fewshot, 5, "with")))
    if any(r["system"] == "onehot" for r in rows) and (5, "without") in conds:
        checks.append(("few-shot (k = 5) vs one-hot baseline", ("onehot", 0, "-"), (fewshot, 5, "without")))
    lines = [f"### Paired comparisons ({label})", "",
             "Each row compares two conditions on the same episodes: the medians of both and the median "
             "of the per-episode difference (second minus first) with its bootstrap 95 % interval, in dB "
             "of SI-SDRi.", "",
             "| instruments | comparison | n | first | second | difference |", "|---|---|---:|---:|---:|---|"]
    any_row = False
    for seen in ("seen", "unseen"):
        for title, a, b in checks:
            d = paired_difference(rows, a, b, seen, seed=seed)
            if d is None:
                continue
            any_row = True
            lines.append(f"| {seen} | {title} | {d['n']} | {_db(d['a_median'])} | {_db(d['b_median'])} | "
                         f"{_db(d['diff_median'])} [{_db(d['diff_low'])}, {_db(d['diff_high'])}] |")
    return lines + [""] if any_row else []


def markdown_summary(rows: Sequence[dict], seed: int = 0, instrument_table: bool = True) -> str:
    """The Markdown tables of an evaluation (main, per family, per instrument, skipped counts)."""
    lines: list[str] = []
    episodes = {r["episode"] for r in rows}
    skipped = {r["episode"] for r in rows if r["status"] != "ok"}
    by_seen = defaultdict(set)
    for r in rows:
        if r["status"] == "ok":
            by_seen[r["seen"]].add(r["episode"])
    lines.append(f"Episodes: {len(episodes)} sampled, {len(skipped)} skipped (near-silent target in the "
                 f"excerpt), {len(by_seen.get('seen', ()))} seen and {len(by_seen.get('unseen', ()))} unseen evaluated.")
    per_episode = {r["episode"]: int(r["n_interferers"]) for r in rows if r["status"] == "ok"}
    if per_episode:
        counts = Counter(per_episode.values())
        lines.append("Other instruments per evaluated mixture: "
                     + ", ".join(f"{n}: {counts[n]} episodes" for n in sorted(counts)) + ".")
    fewshot_rows = [r for r in rows if r["system"].startswith("fewshot") and r["status"] == "ok"]
    if any(r["negatives"] == "with" for r in fewshot_rows):
        with_neg = {r["episode"] for r in fewshot_rows if r["negatives"] == "with"}
        evaluated = {r["episode"] for r in fewshot_rows}
        lines.append(f"Negatives: {len(with_neg)} of {len(evaluated)} evaluated episodes had negative clips "
                     f"(3 clips of an instrument in the mixture, from other pieces); the others have no "
                     f"\"with\" rows.")
    lines.append("")
    lines.append("### Main table")
    lines.append("")
    lines.append("Medians over episodes with bootstrap 95 % intervals, in dB. SI-SDRi = SI-SDR improvement "
                 "over the mixture; SDR = BSS-eval SDR (fast_bss_eval, 512-tap filter).")
    lines.append("")
    main = summarise(rows, ("seen", "system", "k", "negatives"), seed=seed)
    lines.append("| instruments | system | k | negatives | n | SI-SDRi | SDR | SI-SDR |")
    lines.append("|---|---|---:|---|---:|---|---|---|")
    for e in main:
        k = "–" if e["k"] == 0 else str(e["k"])
        lines.append(f"| {e['seen']} | {SYSTEM_LABELS.get(e['system'], e['system'])} | {k} | {e['negatives']} | "
                     f"{e['n']} | {_fmt(e, 'si_sdri')} | {_fmt(e, 'sdr')} | {_fmt(e, 'si_sdr')} |")
    lines.append("")

    k_ref, neg_ref = reference_condition(rows)
    fewshot = primary_fewshot_system(rows)
    lines += _paired_section(rows, fewshot, seed)
    selected = [r for r in rows if r["system"] in ("oracle", "onehot")
                or (r["system"] == fewshot and r["k"] == k_ref and r["negatives"] == neg_ref)]
    if selected:
        lines.append(f"### Per family (SI-SDRi, {fewshot or 'no few-shot system'} at k = {k_ref}, {neg_ref} negatives)")
        lines.append("")
        systems = [s for s in SYSTEM_ORDER if any(r["system"] == s for r in selected)]
        lines.append("| family | instruments | " + " | ".join(SYSTEM_LABELS[s] for s in systems) + " |")
        lines.append("|---|---|" + "---|" * len(systems))
        fam = {(e["family"], e["seen"], e["system"]): e for e in summarise(selected, ("family", "seen", "system"), seed=seed)}
        for family, seen in sorted({(f, s) for f, s, _ in fam}, key=lambda t: (t[0], t[1] != "seen")):
            cells = []
            for s in systems:
                e = fam.get((family, seen, s))
                cells.append(f"{_fmt(e, 'si_sdri')} (n={e['n']})" if e else "–")
            lines.append(f"| {family} | {seen} | " + " | ".join(cells) + " |")
        # Drum kits score far above pitched instruments and lift every all-family median
        pitched = {(e["seen"], e["system"]): e for e in summarise(
            [r for r in selected if r["family"] != DRUM_FAMILY], ("seen", "system"), seed=seed)}
        for seen in sorted({s for s, _ in pitched}, key=lambda s: s != "seen"):
            cells = [f"{_fmt(e, 'si_sdri')} (n={e['n']})" if (e := pitched.get((seen, s))) else "–" for s in systems]
            lines.append(f"| **pitched (all but {DRUM_FAMILY})** | {seen} | " + " | ".join(cells) + " |")
        lines.append("")
        if instrument_table:
            lines.append(f"### Per instrument (median SI-SDRi, same condition)")
            lines.append("")
            lines.append("| instrument | family | instruments | n | " + " | ".join(SYSTEM_LABELS[s] for s in systems) + " |")
            lines.append("|---|---|---|---:|" + "---:|" * len(systems))
            inst = {(e["target_name"], e["family"], e["seen"], e["system"]): e
                    for e in summarise(selected, ("target_name", "family", "seen", "system"), seed=seed)}
            for name, family, seen in sorted({k[:3] for k in inst}, key=lambda t: (t[2] != "seen", t[1], t[0])):
                n = max(inst[(name, family, seen, s)]["n"] for s in systems if (name, family, seen, s) in inst)
                cells = []
                for s in systems:
                    e = inst.get((name, family, seen, s))
                    cells.append(_db(e["si_sdri_median"]) if e else "–")
                lines.append(f"| {name} | {family} | {seen} | {n} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plots


def make_plots(rows: Sequence[dict], out_dir: str | os.PathLike, seed: int = 0) -> list[Path]:
    """Write the PNG figures into `out_dir`; returns their paths (figures with no data are skipped)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    ok = _ok(rows)

    def save(fig, name: str) -> None:
        path = out / name
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        plt.close(fig)
        written.append(path)

    # 1. SI-SDRi vs k, one panel per seen / unseen.
    curves = summarise([r for r in ok if r["system"].startswith("fewshot")], ("seen", "system", "negatives", "k"), seed=seed)
    refs = {(e["seen"], e["system"]): e for e in summarise([r for r in ok if r["system"] in ("oracle", "onehot")],
                                                           ("seen", "system"), seed=seed)}
    panels = [s for s in ("seen", "unseen") if any(e["seen"] == s for e in curves)]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), sharey=True, squeeze=False)
        for ax, seen in zip(axes[0], panels):
            for (system, neg) in sorted({(e["system"], e["negatives"]) for e in curves if e["seen"] == seen},
                                        key=lambda t: (_sort_key("system", t[0]), t[1])):
                pts = [e for e in curves if e["seen"] == seen and e["system"] == system and e["negatives"] == neg]
                ks = np.array([e["k"] for e in pts])
                med = np.array([e["si_sdri_median"] for e in pts])
                err = np.array([[e["si_sdri_median"] - e["si_sdri_low"] for e in pts],
                                [e["si_sdri_high"] - e["si_sdri_median"] for e in pts]])
                ax.errorbar(ks, med, yerr=err, marker="o", capsize=3, linestyle="-" if neg == "without" else "--",
                            label=f"{system} ({neg} neg.)")
            for system, style in (("oracle", ":"), ("onehot", "-.")):
                e = refs.get((seen, system))
                if e:
                    ax.axhline(e["si_sdri_median"], color="grey" if system == "oracle" else "black", linestyle=style,
                               label=f"{system} (median)")
            ax.axhline(0.0, color="lightgrey", linewidth=0.8)
            ax.set_title(f"{seen} instruments")
            ax.set_xlabel("k (support clips)")
            ax.set_xticks(sorted({e["k"] for e in curves}))
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("SI-SDRi (dB), median and 95 % CI")
        axes[0][-1].legend(fontsize=7, loc="best")
        save(fig, "si_sdri_vs_k.png")

    # 2. Per-family box plots of the primary few-shot system at the reference condition.
    fewshot = primary_fewshot_system(ok)
    k_ref, neg_ref = reference_condition(ok)
    sel = [r for r in ok if r["system"] == fewshot and r["k"] == k_ref and r["negatives"] == neg_ref]
    if sel:
        keys = sorted({(r["family"], r["seen"]) for r in sel}, key=lambda t: (t[0], t[1] != "seen"))
        data = [[r["si_sdri"] for r in sel if (r["family"], r["seen"]) == key] for key in keys]
        fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(keys) + 2), 4.5))
        box = ax.boxplot(data, patch_artist=True, showfliers=False)
        for patch, (_, seen) in zip(box["boxes"], keys):
            patch.set_facecolor("#8fb8de" if seen == "seen" else "#f4a582")
        ax.set_xticks(range(1, len(keys) + 1))
        ax.set_xticklabels([f"{f} ({'s' if s == 'seen' else 'u'}, {len(d)})" for (f, s), d in zip(keys, data)],
                           rotation=60, ha="right", fontsize=8)
        ax.axhline(0.0, color="lightgrey", linewidth=0.8)
        ax.set_ylabel("SI-SDRi (dB)")
        ax.set_title(f"{fewshot}, k = {k_ref}, {neg_ref} negatives: blue = seen, orange = unseen (s/u, n)")
        ax.grid(alpha=0.3, axis="y")
        save(fig, "family_boxplots.png")

    # 3. Few-shot vs one-hot, paired per episode.
    onehot = {r["episode"]: r for r in ok if r["system"] == "onehot"}
    pairs = [(onehot[r["episode"]], r) for r in sel if r["episode"] in onehot]
    if pairs:
        fig, ax = plt.subplots(figsize=(5, 5))
        for seen, color in (("seen", "#2166ac"), ("unseen", "#d6604d")):
            xs = [o["si_sdri"] for o, f in pairs if f["seen"] == seen]
            ys = [f["si_sdri"] for o, f in pairs if f["seen"] == seen]
            if xs:
                ax.scatter(xs, ys, s=10, alpha=0.6, color=color, label=f"{seen} (n={len(xs)})")
        lim = [min(min(o["si_sdri"], f["si_sdri"]) for o, f in pairs) - 1,
               max(max(o["si_sdri"], f["si_sdri"]) for o, f in pairs) + 1]
        ax.plot(lim, lim, color="grey", linewidth=0.8)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel("one-hot baseline SI-SDRi (dB)")
        ax.set_ylabel(f"{fewshot} SI-SDRi (dB), k = {k_ref}, {neg_ref} neg.")
        ax.set_title("paired episodes: above the line = few-shot wins")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        save(fig, "fewshot_vs_onehot.png")
    return written


# ----------------------------------------------------------------------------- results page

ROBUST_SECTION_START = "<!-- robustness-suite:start -->"
ROBUST_SECTION_END = "<!-- robustness-suite:end -->"
"""Markers of the robustness suite's section (`fewshot_sep.eval.robust_report`) in a results page."""


def replace_section(page: str, section: str, start: str = ROBUST_SECTION_START,
                    end: str = ROBUST_SECTION_END) -> str:
    """`page` with its section between the `start` and `end` markers (by default the
    robustness section) replaced by `section`, which includes the markers (appended when absent)."""
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(page):
        return pattern.sub(lambda _: section, page)
    return page.rstrip("\n") + "\n\n" + section + "\n"


def write_generated_section(path: str | os.PathLike, name: str, command: str, markdown: str) -> None:
    """Put `markdown` into the page at `path` between ``<!-- name:start -->`` and
    ``<!-- name:end -->`` (appended when absent), with a "generated by: `command`" line,
    atomically; the rest of the page is kept."""
    from fewshot_sep.utils.atomic import write_text_atomic

    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n<!-- generated by: {command} -->\n\n{markdown}{end}"
    page = path.read_text(encoding="utf-8") if path.is_file() else ""
    write_text_atomic(path, replace_section(page, section, start, end).lstrip("\n"))


def existing_section(path: str | os.PathLike) -> str | None:
    """The robustness section of the page at `path`, if it has one."""
    path = Path(path)
    if not path.is_file():
        return None
    match = re.search(re.escape(ROBUST_SECTION_START) + ".*?" + re.escape(ROBUST_SECTION_END), path.read_text(encoding="utf-8"), re.S)
    return match.group(0) if match else None




def write_results_markdown(
    path: str | os.PathLike,
    rows: Sequence[dict],
    run_info: dict,
    plots: Sequence[Path],
    seed: int = 0,
) -> Path:
    """Write a results page (tables + plots + provenance) to `path`.

    The PNGs in `plots` are copied into ``<path parent>/results/`` and linked
    relatively. `run_info` holds ``command``, ``model_id``, ``model_name``,
    ``date``, ``data``, ``checkpoint``, ``onehot_checkpoint``, ``seconds`` (shown verbatim).
    """
    import shutil

    path = Path(path)
    plot_dir = path.parent / "results"
    plot_dir.mkdir(parents=True, exist_ok=True)
    links = []
    for plot in plots:
        dest = plot_dir / Path(plot).name
        if Path(plot).resolve() != dest.resolve():
            with atomic_path(dest) as tmp:
                shutil.copyfile(plot, tmp)
        links.append(f"![{dest.stem}](results/{dest.name})")
    lines = [
        "# Evaluation results",
        "",
        "Generated by `fewshot-sep evaluate` (see [evaluation.md](evaluation.md) for the protocol and what "
        "each column means). Do not edit by hand: regenerate with `bash scripts/make_results.sh` "
        "(which runs the command below).",
        "",
        "| | |",
        "|---|---|",
        f"| command | `{run_info.get('command', '')}` |",
        f"| model | `{run_info.get('model_name', '')}` id `{run_info.get('model_id', '')}` |",
        f"| model card `training` | `{run_info.get('model_training', '')}` |",
        f"| torch checkpoint | `{run_info.get('checkpoint', '')}` |",
        f"| one-hot checkpoint | `{run_info.get('onehot_checkpoint', '')}` |",
        f"| data | `{run_info.get('data', '')}` (splits {run_info.get('splits', '')}) |",
        f"| date (UTC) | {run_info.get('date', '')} |",
        f"| run time | {run_info.get('seconds', 0):.0f} s wall with {run_info.get('workers', '')} worker(s) for "
        f"{run_info.get('episodes_evaluated_now', '')} episodes ({run_info.get('episodes_resumed', 0)} more resumed "
        f"from an earlier call); {run_info.get('cpu_seconds_per_episode', float('nan')):.2f} CPU s per episode "
        "(all systems and conditions) |",
        *([f"| listening page | `{run_info['listen_page']}` ({run_info.get('listen_episodes', 0)} episodes with "
           "audio players: mixture, support clips, estimate, reference; written by the command, not kept in the "
           "repository) |"] if run_info.get("listen_page") else []),
        "",
        *([f"**Warning: the evaluated ONNX model is marked `{run_info['model_status']}` in its card: these "
           "numbers only show that the pipeline runs, not what the method achieves.**", ""]
          if run_info.get("model_status") == "untrained" else []),
        markdown_summary(rows, seed=seed),
        "",
        "## Plots",
        "",
        *[f"{link}\n" for link in links],
    ]
    page = "\n".join(lines) + "\n"
    robust = existing_section(path)  # the robustness suite's section survives a rewrite of the page
    # kept the way replace_section appends it, so rewriting either part leaves the other byte-identical
    write_text_atomic(path, replace_section(page, robust) if robust else page)
    return path
