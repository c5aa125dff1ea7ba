#!/usr/bin/env python
"""Benchmark: time to build a preset from 5 example clips of 10 s (issue target: < 2 s).

Run from the repo root::

    .venv/bin/python benchmarks/bench_presets.py [--model DIR] [--repeats 5] [--no-write]

Model: ``--model DIR``, else the packaged model, else (dev tree without a release model)
an UNTRAINED model of the default architecture exported to a temp folder with
`fewshot_sep.export` (needs torch; the encoder's cost does not depend on its weights).
The table says which one was used.

Measured (median and best of --repeats runs, wall clock, one onnxruntime thread):
- ``create_preset`` cold: includes loading the ONNX encoder (what one CLI call pays);
- ``create_preset`` warm: encoder already loaded (building many presets);
- its parts: reading + checking + resampling + trimming the files, embedding, saving;
- ``fewshot-sep preset create`` end to end in a fresh process (Python start-up and imports included).

The table is printed and written into docs/benchmarks.md between the markers
``<!-- BEGIN Presets -->`` and ``<!-- END Presets -->`` (other sections are kept).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from doc_sections import write_doc_section

REPO = Path(__file__).resolve().parent.parent

BEGIN, END = "<!-- BEGIN Presets -->", "<!-- END Presets -->"
N_FILES, SECONDS, FILE_RATE, FILE_CHANNELS = 5, 10.0, 48000, 2
TARGET_S = 2.0


def make_examples(folder: Path) -> list[Path]:
    """5 stereo 48 kHz 24-bit WAV files of 10 s: harmonic tones with vibrato and a little noise."""
    from fewshot_sep.utils.audio import write_audio

    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * FILE_RATE)) / FILE_RATE
    paths = []
    for i in range(N_FILES):
        f0 = 110.0 * 2 ** (i / 5)
        phase = 2 * np.pi * f0 * (t + 0.003 * np.sin(2 * np.pi * 5.5 * t))
        tone = sum(np.sin(k * phase) / k for k in range(1, 16))
        tone = tone / np.max(np.abs(tone))
        left = 0.4 * tone + 0.01 * rng.standard_normal(t.size)
        right = 0.4 * tone + 0.01 * rng.standard_normal(t.size)
        path = folder / f"example_{i}.wav"
        write_audio(path, np.stack([left, right]).astype(np.float32), FILE_RATE)
        paths.append(path)
    return paths


def pick_model(arg: str | None, scratch: Path) -> tuple[Path, str]:
    """(model folder, description)."""
    from fewshot_sep.realtime.model_files import ModelFiles, default_model_dir

    if arg:
        model = ModelFiles.load(arg)
        return model.folder, f"`{model.name}` ({model.model_id}, from {arg})"
    if (default_model_dir() / "model_card.json").is_file():
        model = ModelFiles.load(None)
        return model.folder, f"packaged `{model.name}` ({model.model_id})"
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    from fewshot_sep.export.exporter import export_model
    from fewshot_sep.model import build_model

    folder = scratch / "untrained_model"
    note = ""
    try:
        export_model(build_model({}), folder, name="untrained-default-architecture", show_progress=False)
    except Exception as err:  # the model code may be mid-change: the encoder alone is enough here
        note = f" (full export failed: {type(err).__name__}; encoder-only folder)"
        _encoder_only_folder(build_model({}), folder)
    model = ModelFiles.load(folder)
    return folder, (f"UNTRAINED default architecture (E = {model.embedding_dim}), exported for this benchmark"
                    f"{note}: no release model was packaged; rerun when it is")


def _encoder_only_folder(model, folder: Path) -> None:
    """A model folder whose encoder is `model.encoder`; the separator file is a placeholder that
    preset building never opens (ModelFiles only hashes it)."""
    import json

    from fewshot_sep.export.card import build_card, clip_lengths
    from fewshot_sep.export.graphs import OPSET, encoder_to_onnx
    from fewshot_sep.realtime.model_files import compute_model_id

    folder.mkdir(parents=True, exist_ok=True)
    encoder_to_onnx(model.encoder, folder / "encoder.onnx")
    (folder / "separator.onnx").write_bytes(b"placeholder: not used when building presets")
    clip_seconds, min_clip_seconds = clip_lengths({})
    card = build_card(model_id=compute_model_id(folder / "separator.onnx", folder / "encoder.onnx"),
                      name="untrained-encoder-only", sample_rate=44100, n_fft=1024, hop=256, lookahead_frames=0,
                      embedding_dim=int(model.embedding_dim), state_shapes=[], clip_seconds=clip_seconds,
                      min_clip_seconds=min_clip_seconds, opset=OPSET, training={"status": "untrained"})
    (folder / "model_card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")


def timed(fn, repeats: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), result


def run(model_arg: str | None, repeats: int) -> tuple[str, float]:
    from fewshot_sep.presets import create_preset, save_preset
    from fewshot_sep.presets.build import _card_seconds, _embed_into, _prepare_all
    from fewshot_sep.presets.examples import parse_example
    from fewshot_sep.presets.format import EmbeddingSum, Preset
    from fewshot_sep.realtime.encoder import ClipEncoder
    from fewshot_sep.realtime.model_files import ModelFiles

    with tempfile.TemporaryDirectory(prefix="bench-presets-") as tmp:
        scratch = Path(tmp)
        folder, model_text = pick_model(model_arg, scratch)
        model = ModelFiles.load(folder)
        files = make_examples(scratch)
        specs = [parse_example(p) for p in files]

        cold = timed(lambda: create_preset("bench", files, model=model), repeats)
        encoder = ClipEncoder(model)
        warm = timed(lambda: create_preset("bench", files, model=model, encoder=encoder), repeats)
        preset = warm[2]
        prep = timed(lambda: _prepare_all(specs, [], model), repeats)
        prepared = prep[2]

        def embed_only():
            p = Preset(name="bench", model_id=model.model_id, embedding_dim=model.embedding_dim, positive=EmbeddingSum())
            _embed_into(prepared, p, encoder, progress=False)

        embed = timed(embed_only, repeats)
        save = timed(lambda: save_preset(preset, scratch / "bench.json"), repeats)
        load_enc = timed(lambda: ClipEncoder(model), repeats)

        exe = Path(sys.executable).with_name("fewshot-sep")
        cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "fewshot_sep"]),
               "preset", "create", "bench", "--examples", *map(str, files), "--output", str(scratch / "cli.json"),
               "--force", "--quiet", "--model", str(folder)]
        env = dict(os.environ, FEWSHOT_SEP_HOME=str(scratch / "home"))

        def cli():
            subprocess.run(cmd, check=True, env=env, capture_output=True)

        cli_t = timed(cli, repeats)
        clip_seconds, _ = _card_seconds(model)
        n_clips = preset.positive.count

    def row(what, t):
        return f"| {what} | {t[0]:.3f} | {t[1]:.3f} |"

    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    verdict = "meets" if cold[0] < TARGET_S else "MISSES"
    lines = [
        "## Presets",
        "",
        f"Building a preset from {N_FILES} example files of {SECONDS:g} s ({FILE_RATE} Hz stereo 24-bit WAV, so "
        f"resampled to {model.sample_rate} Hz and downmixed), cut into {n_clips} clips of {clip_seconds:g} s. "
        f"Median and best of {repeats} runs, wall clock, 1 onnxruntime thread.",
        "",
        f"- model: {model_text}",
        f"- machine: {cpu}, {os.cpu_count()} logical CPUs (shared with other jobs), Python "
        f"{platform.python_version()}, onnxruntime {onnxruntime.__version__}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; `benchmarks/bench_presets.py`",
        "",
        "| step | median s | best s |",
        "|---|---:|---:|",
        row("`create_preset`, cold (loads the encoder)", cold),
        row("`create_preset`, warm (encoder loaded)", warm),
        row("  read + check + resample + trim + cut", prep),
        row(f"  embed {n_clips} clips", embed),
        row("  load the ONNX encoder", load_enc),
        row("`save_preset` (atomic JSON write)", save),
        row("`fewshot-sep preset create` in a new process", cli_t),
        "",
        f"Target < {TARGET_S:g} s for `create_preset`: {verdict} it ({cold[0]:.2f} s median, cold).",
    ]
    return "\n".join(lines), cold[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: packaged, else an untrained export)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks.md")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    section, _ = run(args.model, max(1, args.repeats))
    print(section)
    if not args.no_write:
        write_doc_section(args.output, BEGIN, END, section)
        print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
