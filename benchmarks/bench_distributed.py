#!/usr/bin/env python
"""Benchmark: `separate` batch throughput here and on a local Dask cluster of 1 and 2 workers.

Run from the repo root (needs the `distributed` extra)::

    .venv/bin/python benchmarks/bench_distributed.py [--files 8] [--seconds 15] [--model DIR] [--no-write]

Input: ``--files`` stereo 44.1 kHz WAV files of ``--seconds`` s (the bundled example
mix, tiled, each file starting at another offset), preset ``builtin:violin`` on the
packaged model (or ``--model DIR`` with a preset made from the example's clips).
Measured, wall clock, one run each, in this order:

- ``local``: :func:`separate_files` with ``workers=1`` (this process, no Dask);
- ``dask N`` (N = 1, 2): a ``LocalCluster`` of N worker processes (one thread each)
  started first (its start-up is reported on its own), then :func:`separate_files`
  with ``scheduler=`` its address: the batch time includes each worker loading the
  model on its first file, task submission and result collection;
- worker CPU: user + system seconds the workers (or, locally, this process) spent
  during the batch, from ``getrusage`` (``client.run`` on each worker); cores used =
  worker CPU / batch time; audio s per CPU s = audio seconds / worker CPU;
- ``CLI --workers 2``: ``fewshot-sep separate DIR --workers 2`` in a fresh process,
  end to end (Python start-up, imports, cluster start, model loads, the batch).

Throughput = files and seconds of audio per second of wall time. Every run's
outputs are compared byte for byte with the local run's. The load average is
printed beside the figures: the machine is shared. The table is printed and
written into docs/benchmarks.md between ``<!-- BEGIN Dask batches -->`` and
``<!-- END Dask batches -->`` (other sections are kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from doc_sections import write_doc_section

REPO = Path(__file__).resolve().parent.parent

BEGIN, END = "<!-- BEGIN Dask batches -->", "<!-- END Dask batches -->"
ASSETS = REPO / "fewshot_sep" / "assets"


def make_inputs(folder: Path, files: int, seconds: float) -> list[Path]:
    """`files` stereo 44.1 kHz float WAVs of `seconds` s cut from the tiled example mix."""
    example = json.loads((ASSETS / "example" / "example.json").read_text())
    mix, rate = sf.read(ASSETS / "example" / example["mix"], dtype="float32", always_2d=True)
    assert rate == 44100, rate
    if mix.shape[1] == 1:
        mix = np.repeat(mix, 2, axis=1)
    n = int(seconds * rate)
    tiled = np.tile(mix, (int(np.ceil((n + files * rate) / len(mix))) + 1, 1))
    paths = []
    for i in range(files):
        path = folder / f"track{i:02d}.wav"
        sf.write(path, tiled[i * rate: i * rate + n], rate, subtype="FLOAT")
        paths.append(path)
    return paths


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (run on each worker with client.run)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.wav"))}


def preset_for(model: str | None, tmp: Path) -> str:
    """builtin:violin for the packaged model; else a preset made from the example's clips."""
    if model is None:
        return "builtin:violin"
    example = json.loads((ASSETS / "example" / "example.json").read_text())
    clips = [str(ASSETS / "example" / c) for inst in example["instruments"] for c in inst.get("clips", [])][:5]
    out = tmp / "bench-preset.json"
    subprocess.run([sys.executable, "-m", "fewshot_sep", "preset", "create", "bench", "--examples", *clips,
                    "--model", model, "--output", str(out), "-q"], check=True, cwd=REPO)
    return str(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0, help="audio seconds per file")
    parser.add_argument("--model", default=None, help="model folder (default: the packaged model)")
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/benchmarks.md")
    args = parser.parse_args()

    import logging

    from distributed import Client, LocalCluster

    from fewshot_sep.plugin_host.files.batch import separate_files

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp_name:
        tmp = Path(tmp_name)
        inputs = tmp / "in"
        inputs.mkdir()
        make_inputs(inputs, args.files, args.seconds)
        preset = preset_for(args.model, tmp)
        options = dict(model=args.model, progress=False, log=lambda line: None)
        audio = args.files * args.seconds

        def record(label: str, wall: float, out: Path, startup: float | None, reference: dict | None,
                   cpu: float | None) -> dict:
            same = reference is None or digests(out) == reference
            row = dict(run=label, wall_s=round(wall, 2), startup_s=None if startup is None else round(startup, 2),
                       cpu_s=None if cpu is None else round(cpu, 2),
                       files_per_s=round(args.files / wall, 3), audio_s_per_s=round(audio / wall, 2),
                       identical=same, load=round(os.getloadavg()[0], 1))
            print(json.dumps(row), flush=True)
            rows.append(row)
            return row

        # What each worker pays once: loading the model (hash check + ONNX sessions) and
        # building the processors, measured here on a 1 s file in a fresh process.
        probe = tmp / "probe.wav"
        sf.write(probe, np.zeros((44100, 2), np.float32), 44100)
        code = ("import time, sys; t = time.perf_counter(); "
                "from fewshot_sep.plugin_host.files.batch import separate_files; "
                f"separate_files([{str(probe)!r}], {str(tmp / 'probe-out.wav')!r}, [{preset!r}], "
                f"model={args.model!r}, progress=False, log=lambda l: None); "
                "print(time.perf_counter() - t)")
        model_load = float(subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True,
                                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}).stdout.split()[-1])

        start, cpu0 = time.perf_counter(), cpu_seconds()
        summary = separate_files([inputs], tmp / "local", [preset], **options)
        assert not summary.failed, summary.failed
        record("local (no Dask)", time.perf_counter() - start, tmp / "local", None, None, cpu_seconds() - cpu0)
        reference = digests(tmp / "local")

        for workers in (1, 2):
            t0 = time.perf_counter()
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
                startup = time.perf_counter() - t0
                out = tmp / f"dask{workers}"
                before = client.run(cpu_seconds)
                start = time.perf_counter()
                summary = separate_files([inputs], out, [preset], scheduler=cluster.scheduler_address, **options)
                wall = time.perf_counter() - start
                after = client.run(cpu_seconds)
            assert not summary.failed, summary.failed
            cpu = sum(after[w] - before[w] for w in after)
            record(f"Dask LocalCluster, {workers} worker(s)", wall, out, startup, reference, cpu)

        out = tmp / "cli2"
        cmd = [sys.executable, "-m", "fewshot_sep", "separate", str(inputs), "--preset", preset, "--output", str(out),
               "--workers", "2", "-q"] + (["--model", args.model] if args.model else [])
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=REPO, capture_output=True)
        record("CLI `--workers 2`, end to end", time.perf_counter() - start, out, None, reference, None)

    model_name = args.model or "packaged model `fewshot_sep/assets/model`"
    lines = [
        "## Dask batches",
        "",
        f"`{' '.join(['python', 'benchmarks/bench_distributed.py'] + sys.argv[1:])}` on {time.strftime('%Y-%m-%d')}: "
        f"{args.files} stereo 44.1 kHz files of {args.seconds:g} s ({audio:g} s of audio), preset "
        f"`{'builtin:violin' if args.model is None else 'from the example clips'}`, {model_name}; "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), shared with other work "
        "(load average at the end of each run in the last column). One run each, wall clock.",
        "",
        "| run | cluster start-up (s) | batch (s) | files/s | audio s/s | worker CPU (s) | cores used "
        "| audio s per CPU s | outputs = local run | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        startup = "" if r["startup_s"] is None else f"{r['startup_s']:.1f}"
        cpu = "" if r["cpu_s"] is None else f"{r['cpu_s']:.1f}"
        cores = "" if r["cpu_s"] is None else f"{r['cpu_s'] / r['wall_s']:.2f}"
        per_cpu = "" if r["cpu_s"] is None else f"{audio / r['cpu_s']:.1f}"
        lines.append(f"| {r['run']} | {startup} | {r['wall_s']:.2f} | {r['files_per_s']:.2f} | "
                     f"{r['audio_s_per_s']:.1f} | {cpu} | {cores} | {per_cpu} | "
                     f"{'yes, byte for byte' if r['identical'] else 'NO'} | {r['load']} |")
    local, one, two = rows[0]["wall_s"], rows[1]["wall_s"], rows[2]["wall_s"]
    cpu_per_audio = rows[0]["cpu_s"] / audio
    lines += [
        "",
        f"Speed-up of 2 workers over 1: {one / two:.2f}x (over the local run: {local / two:.2f}x). "
        "Each file runs on one onnxruntime thread in a worker, so N workers use N cores; "
        "the batch time of a Dask run includes each worker loading the model once: imports, model "
        f"load, preset and processors, plus a 1 s file, took {model_load:.2f} s in a fresh process here. "
        f"The work itself costs {cpu_per_audio:.3f} CPU s per second of audio (local run), so with C free "
        f"cores the ceiling is about {1 / cpu_per_audio:.0f} x C seconds of audio per second; "
        "'cores used' (worker CPU / batch time) shows how much of the 2 cores the other work on this "
        "machine left to the batch, and 'audio s per CPU s' what a core yields with the Dask overhead and "
        "the per-worker model loads included (throughput with C free cores is about C times that).",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_doc_section(REPO / "docs" / "benchmarks.md", BEGIN, END, section)
    if not all(r["identical"] for r in rows):
        print("bench_distributed: outputs differ from the local run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
