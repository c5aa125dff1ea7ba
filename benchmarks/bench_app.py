"""Measure the standalone app: build time, folder size, startup (`--help`) and a 10-second `separate`.

    .venv/bin/python benchmarks/bench_app.py [--build] [--app dist/fewshot-sep/fewshot-sep]
                                            [--model DIR | --double] [--repeats 5] [--json OUT.json]

- ``--build`` builds the app first with ``scripts/build_app.sh`` and times it
  (into ``--app``'s dist folder).
- ``separate`` runs on a 10 s stereo 44.1 kHz file made from the bundled example
  mix (tiled), with a preset made by the frozen app from the bundled example
  clips; the same command through ``python -m fewshot_sep`` is timed too.
- The model is the packaged one (``fewshot_sep/assets/model``) unless ``--model``
  names another folder or ``--double`` asks for the identity test double (needs
  the ``onnx`` package; measures the app's overhead, not the network's cost).

Times are wall-clock seconds, median over ``--repeats`` runs (the first ``--help``
after a build is reported separately: it includes cold file-cache reads).
Prints a Markdown table; ``--json`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "fewshot_sep" / "assets"


CPU_SECONDS: dict[str, list[float]] = {}


def timed(cmd: list[str], env: dict[str, str], cwd: Path, label: str | None = None) -> float:
    """Run `cmd`, fail loudly on a non-zero exit, return its wall time in seconds.

    With `label`, the process's CPU time (user + system, from the children's
    rusage) is recorded in CPU_SECONDS[label]: less sensitive to a busy machine.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"bench_app: {' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    if label is not None:
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        CPU_SECONDS.setdefault(label, []).append(cpu)
    return elapsed


def cpu_median(label: str) -> float:
    return round(statistics.median(CPU_SECONDS[label]), 3)


def folder_size(folder: Path) -> tuple[int, int]:
    """(bytes, files) of everything under `folder` (symlinks not followed)."""
    total, count = 0, 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            count += 1
    return total, count


def ten_second_input(path: Path, seconds: float = 10.0) -> Path:
    """The bundled example mix tiled to `seconds`, stereo, 44.1 kHz float WAV."""
    example = json.loads((ASSETS / "example" / "example.json").read_text())
    mix, sample_rate = sf.read(ASSETS / "example" / example["mix"], dtype="float32", always_2d=True)
    n = int(seconds * sample_rate)
    mono = np.resize(mix.mean(axis=1), n)
    sf.write(path, np.stack([mono, 0.9 * mono], axis=1), sample_rate, subtype="FLOAT")
    return path


def example_clips() -> list[Path]:
    """Clips of the first instrument of the bundled example that has clips."""
    example = json.loads((ASSETS / "example" / "example.json").read_text())
    inst = next(i for i in example["instruments"] if i.get("clips"))
    return [ASSETS / "example" / c for c in inst["clips"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", type=Path, default=REPO / "dist" / "fewshot-sep" / "fewshot-sep",
                        help="the frozen executable (default: dist/fewshot-sep/fewshot-sep)")
    parser.add_argument("--build", action="store_true", help="build the app first (timed)")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the packaged model)")
    parser.add_argument("--double", action="store_true", help="use the identity test-double model")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    app = args.app.resolve()
    results: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU(s), "
                                             f"load average {os.getloadavg()[0]:.1f} at start"}
    if args.build:
        dist, work = app.parent.parent, Path(tempfile.mkdtemp(prefix="fewshot-build-"))
        start = time.perf_counter()
        subprocess.run(["bash", str(REPO / "scripts" / "build_app.sh"), str(dist), str(work)], cwd=REPO, check=True,
                       env={**os.environ, "VENV": sys.prefix})
        results["build_seconds"] = round(time.perf_counter() - start, 1)
    if not app.is_file():
        raise SystemExit(f"bench_app: no app at {app}; build it (bash scripts/build_app.sh) or pass --build")
    size, files = folder_size(app.parent)
    results["folder_mib"] = round(size / 2**20, 1)
    results["files"] = files

    with tempfile.TemporaryDirectory(prefix="fewshot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FEWSHOT_SEP_MODEL")}
        env["FEWSHOT_SEP_HOME"] = str(tmp / "home")
        if args.double:
            sys.path.insert(0, str(REPO / "tests"))
            from model_doubles import make_model_folder

            env["FEWSHOT_SEP_MODEL"] = str(make_model_folder(tmp, kind="identity"))
            results["model"] = "identity test double"
        elif args.model is not None:
            env["FEWSHOT_SEP_MODEL"] = str(args.model.resolve())
            results["model"] = str(args.model)
        else:
            if not (ASSETS / "model" / "model_card.json").is_file():
                raise SystemExit("bench_app: no packaged model in fewshot_sep/assets/model; pass --model DIR or --double")
            card = json.loads((ASSETS / "model" / "model_card.json").read_text())
            results["model"] = f"packaged {card.get('name')} ({card.get('model_id')})"

        results["help_first_s"] = round(timed([str(app), "--help"], env, tmp), 3)
        results["help_median_s"] = round(statistics.median(
            timed([str(app), "--help"], env, tmp, "help") for _ in range(args.repeats)), 3)
        results["help_cpu_s"] = cpu_median("help")

        preset = tmp / "example.json"
        timed([str(app), "preset", "create", "example", "--examples", *map(str, example_clips()),
               "--output", str(preset), "-q"], env, tmp)
        source = ten_second_input(tmp / "ten_seconds.wav")
        separate = ["separate", str(source), "--preset", str(preset), "--output", str(tmp / "out.wav"), "-q"]
        results["separate_10s_frozen_s"] = round(statistics.median(
            timed([str(app), *separate], env, tmp, "separate") for _ in range(args.repeats)), 3)
        results["separate_10s_frozen_cpu_s"] = cpu_median("separate")
        py_env = {**env, "PYTHONPATH": str(REPO)}
        results["separate_10s_python_s"] = round(statistics.median(
            timed([sys.executable, "-m", "fewshot_sep", *separate], py_env, tmp, "py_separate")
            for _ in range(args.repeats)), 3)
        results["separate_10s_python_cpu_s"] = cpu_median("py_separate")
        results["help_python_s"] = round(statistics.median(
            timed([sys.executable, "-m", "fewshot_sep", "--help"], py_env, tmp, "py_help") for _ in range(args.repeats)), 3)
        results["help_python_cpu_s"] = cpu_median("py_help")

    rows = [
        ("machine", results["machine"]),
        ("model", results["model"]),
        ("build time", f"{results['build_seconds']} s" if "build_seconds" in results else "(not built here)"),
        ("app folder size", f"{results['folder_mib']} MiB, {results['files']} files"),
        ("`fewshot-sep --help`, first run after build", f"{results['help_first_s']} s"),
        ("`fewshot-sep --help` (median wall / CPU)", f"{results['help_median_s']} s / {results['help_cpu_s']} s"),
        ("`python -m fewshot_sep --help` (for comparison)",
         f"{results['help_python_s']} s / {results['help_python_cpu_s']} s"),
        ("`fewshot-sep separate` 10 s stereo 44.1 kHz (median wall / CPU, whole process)",
         f"{results['separate_10s_frozen_s']} s / {results['separate_10s_frozen_cpu_s']} s"),
        ("`python -m fewshot_sep separate`, same file",
         f"{results['separate_10s_python_s']} s / {results['separate_10s_python_cpu_s']} s"),
    ]
    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
