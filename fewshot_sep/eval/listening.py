"""The HTML listening page: a few episodes as <audio> players, files beside the page.

``<out>/listen/index.html`` links relatively to ``<out>/listen/<episode>/*.flac``
(written by the harness), so the folder can be moved or zipped as a whole.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Sequence

from fewshot_sep.eval.report import SYSTEM_LABELS
from fewshot_sep.utils.atomic import write_text_atomic

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }
section { border-top: 1px solid #ccc; padding: 0.5em 0 1em; }
table { border-collapse: collapse; }
td, th { padding: 0.2em 0.8em 0.2em 0; text-align: left; vertical-align: middle; }
audio { height: 2em; width: 22em; }
.meta { color: #555; }
"""


def _player(rel: str) -> str:
    return f'<audio controls preload="none" src="{html.escape(rel)}"></audio>'


def write_listening_page(listen_dir: str | os.PathLike, records: Sequence[dict], title: str) -> Path:
    """Write ``index.html`` into `listen_dir` for the episode `records` of the harness; returns its path."""
    folder = Path(listen_dir)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             "<p>Each episode: the mixture, the example clips the few-shot model was given, the true "
             "target (reference) and each system's estimate with its SI-SDR improvement. Estimates are "
             "latency-compensated, so all players start at the same musical time.</p>"]
    if not records:
        parts.append("<p>No episodes were kept for listening (run with --listen N, N &gt; 0).</p>")
    for rec in records:
        files = rec["files"]
        neg = f", negatives: {html.escape(rec['negative_instrument'])}" if rec["negatives"] == "with" else ""
        parts.append(f"<section><h2>{html.escape(rec['episode'])}: {html.escape(rec['target'])} "
                     f"({html.escape(rec['seen'])}, {html.escape(rec['family'])})</h2>")
        parts.append(f"<p class='meta'>Other instruments: {html.escape(rec['interferers'])}. Condition: "
                     f"k = {rec['k']}{neg}.</p><table>")
        parts.append(f"<tr><th>mixture</th><td>{_player(files['mixture'])}</td><td></td></tr>")
        parts.append(f"<tr><th>reference (true target)</th><td>{_player(files['reference'])}</td><td></td></tr>")
        for system in ("fewshot-onnx", "fewshot-stream", "fewshot-torch", "onehot", "oracle"):
            est = files["estimates"].get(system)
            if est:
                parts.append(f"<tr><th>{html.escape(SYSTEM_LABELS.get(system, system))}</th>"
                             f"<td>{_player(est['file'])}</td><td>SI-SDRi {est['si_sdri']:+.1f} dB</td></tr>")
        for i, rel in enumerate(files["support"]):
            parts.append(f"<tr><th>example clip {i + 1}</th><td>{_player(rel)}</td><td></td></tr>")
        for i, rel in enumerate(files.get("negatives", [])):
            parts.append(f"<tr><th>negative clip {i + 1}</th><td>{_player(rel)}</td><td></td></tr>")
        parts.append("</table></section>")
    parts.append("</body></html>")
    path = folder / "index.html"
    write_text_atomic(path, "\n".join(parts) + "\n")
    return path
