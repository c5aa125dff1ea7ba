"""Write every output of an evaluation run into its folder (and optionally docs/results.md).

``<out>/episodes.csv``   one row per episode x system x condition (`report.ROW_COLUMNS`)
``<out>/summary.md``     the Markdown tables
``<out>/plots/*.png``    SI-SDRi vs k, per-family boxes, few-shot vs one-hot
``<out>/listen/``        index.html + FLAC files of a few episodes
``<out>/run.json``       settings, command, model id, date, timing
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import asdict
from pathlib import Path

from fewshot_sep.eval.harness import EvalOutcome, EvalSettings
from fewshot_sep.eval.listening import write_listening_page
from fewshot_sep.eval.report import make_plots, markdown_summary, write_results_markdown, write_rows_csv
from fewshot_sep.utils.atomic import write_json_atomic, write_text_atomic


def model_description(settings: EvalSettings) -> dict:
    """Name and id of the evaluated model: the ONNX model card if an ONNX system ran, else the checkpoint."""
    if any(s in settings.systems for s in ("fewshot-onnx", "fewshot-stream")):
        from fewshot_sep.realtime.model_files import ModelFiles

        model = ModelFiles.load(settings.model)
        training = model.card.get("training", {})
        status = training.get("status", "") if isinstance(training, dict) else ""
        return {"model_name": model.name, "model_id": model.model_id, "model_folder": str(model.folder),
                "model_training": _training_summary(training), "model_status": status}
    return {"model_name": "torch checkpoint", "model_id": str(settings.checkpoint or ""), "model_folder": "",
            "model_training": "", "model_status": ""}


def _training_summary(training: object) -> str:
    """A short ``key=value`` line of the card's free-form ``training`` section."""
    if not isinstance(training, dict):
        return ""
    keys = ("status", "run", "config", "config_name", "step", "steps", "elapsed_s", "best_val_sisdri_median_db")
    parts = [f"{k}={training[k]:.3g}" if isinstance(training[k], float) else f"{k}={training[k]}"
             for k in keys if k in training and not isinstance(training[k], (dict, list))]
    return ", ".join(parts) or json.dumps(training, sort_keys=True)[:200]


def write_outputs(
    settings: EvalSettings,
    outcome: EvalOutcome,
    out_dir: str | os.PathLike,
    command: str,
    workers: int,
    results_md: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """Write CSV, summary, plots, listening page and run.json; returns the paths written."""
    out = Path(out_dir)
    info = {
        "command": command,
        **model_description(settings),
        "checkpoint": settings.checkpoint or "",
        "onehot_checkpoint": settings.onehot_checkpoint or "",
        "data": settings.data,
        "splits": " ".join(settings.splits),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": outcome.seconds,
        "workers": workers,
        "episodes_evaluated_now": outcome.evaluated_now,
        "episodes_resumed": outcome.resumed,
        "cpu_seconds_per_episode": outcome.cpu_seconds_per_episode,
        "settings": asdict(settings),
    }
    paths: dict[str, Path] = {}
    paths["csv"] = out / "episodes.csv"
    write_rows_csv(paths["csv"], outcome.rows)
    if settings.suite == "robust":
        return _write_robust_outputs(settings, outcome, out, info, paths, results_md)
    summary = markdown_summary(outcome.rows, seed=settings.seed)
    paths["summary"] = out / "summary.md"
    write_text_atomic(paths["summary"], f"# Evaluation summary\n\n`{command}`\n\nModel `{info['model_name']}` "
                      f"id `{info['model_id']}`, {info['date']}.\n\n{summary}\n")
    plots = make_plots(outcome.rows, out / "plots", seed=settings.seed)
    for plot in plots:
        paths[plot.stem] = plot
    paths["listen"] = write_listening_page(out / "listen", outcome.listen,
                                           title=f"fewshot-sep listening examples ({info['model_name']} {info['model_id']})")
    info["listen_page"] = str(paths["listen"])
    info["listen_episodes"] = len(outcome.listen)
    paths["run"] = out / "run.json"
    write_json_atomic(paths["run"], info)
    if results_md is not None:
        paths["results_md"] = write_results_markdown(results_md, outcome.rows, info, plots, seed=settings.seed)
    return paths


def _write_robust_outputs(settings: EvalSettings, outcome: EvalOutcome, out: Path, info: dict,
                          paths: dict[str, Path], results_md: str | os.PathLike | None) -> dict[str, Path]:
    """The robustness suite's summary, plot, listening page and run.json (and results section)."""
    from fewshot_sep.eval.robust_report import paired_markdown, robust_markdown, robust_plot, write_robust_results

    paths["summary"] = out / "summary.md"
    write_text_atomic(paths["summary"], f"# Robustness suite\n\n`{info['command']}`\n\nModel `{info['model_name']}` "
                      f"id `{info['model_id']}`, {info['date']}.\n\n{robust_markdown(outcome.rows, seed=settings.seed)}\n\n"
                      f"{paired_markdown(outcome.rows, seed=settings.seed)}\n")
    paths["robustness"] = robust_plot(outcome.rows, out / "plots")
    paths["listen"] = write_listening_page(out / "listen", outcome.listen,
                                           title=f"fewshot-sep robustness suite ({info['model_name']} {info['model_id']})")
    info["listen_page"] = str(paths["listen"])
    paths["run"] = out / "run.json"
    write_json_atomic(paths["run"], info)
    if results_md is not None:
        paths["results_md"] = write_robust_results(results_md, outcome.rows, info, paths["robustness"],
                                                   seed=settings.seed)
    return paths
