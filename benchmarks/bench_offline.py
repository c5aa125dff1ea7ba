"""Benchmark of the offline path (what `fewshot-sep separate` and `FewShotSeparator.process` run).

Usage:
    python benchmarks/bench_offline.py [--seconds 60] [--reps 5] [--before-tree DIR]
                                       [--priority normal|fifo|both] [--no-write]

Compares, on a stereo 44.1 kHz input (the bundled example mix, tiled to --seconds,
the right channel a delayed, quieter copy with a little noise) and the builtin
violin preset:

- arrays, in this process: the live path, i.e. ``process_block`` in 8192-sample
  blocks with the latency flushed by zeros (how `separate` and ``process()`` ran
  until the offline path replaced it), against ``FewShotSeparator.process`` (the
  engine's offline path) with 1 and 2 threads; runs interleaved, median wall and
  CPU time, sha256 of each output;
- whole commands: ``fewshot-sep separate IN --preset builtin:violin --output OUT
  [--threads 2]`` (the package's ``__main__`` run by ``python -c``, which also notes
  the process's peak RSS) of this tree and, with ``--before-tree DIR`` (a
  checkout of an earlier commit, e.g. ``git worktree add /tmp/before COMMIT``), of
  that tree; runs interleaved, median wall, CPU (the child's rusage) and peak RSS,
  sha256 of each output file.

Both at normal priority (the machine's other jobs compete) and at SCHED_FIFO (free
cores, as on an idle machine; needs the permission, else those rows are left out).
The table goes between markers in docs/benchmarks.md, section "Offline path".
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from doc_sections import write_doc_section

REPO = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN offline-path (benchmarks/bench_offline.py) -->"
END = "<!-- END offline-path -->"
RATE = 44100
LIVE_BLOCK = 8192


def make_input(seconds: float) -> np.ndarray:
    """``[2, n]`` float32: the example mix tiled; right = 0.7 x left delayed 3001 samples + noise."""
    from fewshot_sep.plugin_host.files.example import example_mix_path
    from fewshot_sep.utils.audio import read_audio

    mix, rate = read_audio(example_mix_path())
    assert rate == RATE
    n = int(seconds * RATE)
    left = np.tile(mix[0], n // mix.shape[1] + 1)[:n]
    right = np.roll(left, 3001) * 0.7 + 0.01 * np.random.default_rng(0).standard_normal(n).astype(np.float32)
    return np.stack([left, right]).astype(np.float32)


def fifo(active: bool) -> bool:
    """Switch this process (and the threads and children it starts later) to SCHED_FIFO or back."""
    try:
        if active:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
        else:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        return True
    except (AttributeError, PermissionError, OSError):
        return False


def live_path(engine, audio: np.ndarray) -> np.ndarray:
    """``audio [C, n]`` through ``process_block`` in 8192-sample blocks, latency-compensated."""
    from fewshot_sep.realtime.alignment import pad_for_latency, trim_latency

    latency = int(engine.latency_samples)
    engine.reset()
    padded = pad_for_latency(audio, latency)
    out = np.empty_like(padded)
    for start in range(0, padded.shape[1], LIVE_BLOCK):
        engine.process_block(padded[:, start : start + LIVE_BLOCK], out=out[:, start : start + LIVE_BLOCK])
    return trim_latency(out, latency, audio.shape[1])


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()[:16]


def time_arrays(audio: np.ndarray, reps: int) -> list[dict]:
    """Interleaved runs of each way on the array; median wall/CPU seconds and the output digest."""
    from fewshot_sep.plugin_host import FewShotSeparator
    from fewshot_sep.realtime.engine import StreamingSeparator

    separators = {}
    for threads in (1, 2):
        separators[threads] = FewShotSeparator("builtin:violin")
        separators[threads].threads = threads
    engine = StreamingSeparator(separators[1].model, RATE, 2, separators[1].conditioning)
    ways = {
        "live path: `process_block`, 8192-sample blocks (before)": lambda: live_path(engine, audio),
        "offline path: `process()`, threads 1": lambda: separators[1].process(audio, RATE),
        "offline path: `process()`, threads 2": lambda: separators[2].process(audio, RATE),
    }
    rows = {name: {"name": name, "wall": [], "cpu": [], "digest": digest(way())} for name, way in ways.items()}
    for _ in range(reps):
        for name, way in ways.items():
            wall, cpu = time.perf_counter(), time.process_time()
            way()
            rows[name]["wall"].append(time.perf_counter() - wall)
            rows[name]["cpu"].append(time.process_time() - cpu)
    return list(rows.values())


#: Runs ``python -m fewshot_sep ARGS`` and writes the process's peak RSS (VmHWM, KiB) to
#: $BENCH_PEAK_FILE at exit (the child's rusage maxrss would include this process's, as a
#: forked child starts from its parent's high-water mark).
RUN_MODULE = """
import atexit, os, runpy, sys
def _peak():
    with open('/proc/self/status') as status, open(os.environ['BENCH_PEAK_FILE'], 'w') as out:
        out.write(next(line.split()[1] for line in status if line.startswith('VmHWM:')))
atexit.register(_peak)
sys.argv[0] = 'fewshot-sep'
runpy.run_module('fewshot_sep', run_name='__main__', alter_sys=True)
"""


def run_command(tree: Path, source: Path, out: Path, threads: int, realtime: bool) -> tuple[float, float, float]:
    """One ``separate`` run of `tree`'s package: (wall s, CPU s, peak RSS MiB)."""
    command = [sys.executable, "-c", RUN_MODULE, "separate", str(source), "--preset", "builtin:violin",
               "--output", str(out), "--overwrite", "--threads", str(threads)]
    peak_file = out.with_suffix(".peak")
    env = dict(os.environ, PYTHONPATH=str(tree), BENCH_PEAK_FILE=str(peak_file))
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             preexec_fn=(lambda: fifo(True)) if realtime else None)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} failed in {tree}: {child.stderr.read().decode()[-2000:]}")
    child.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, int(peak_file.read_text()) / 1024


def time_commands(trees: dict[str, Path], source: Path, reps: int, realtime: bool, scratch: Path) -> list[dict]:
    """Interleaved `separate` runs of each (tree, threads); medians and the output file's sha256."""
    rows = []
    for label, tree in trees.items():
        for threads in (1, 2):
            out = scratch / f"{label}-{threads}.wav"
            rows.append({"name": f"{label}, `--threads {threads}`", "tree": tree, "threads": threads, "out": out,
                         "wall": [], "cpu": [], "rss": []})
    for row in rows:  # warm-up (page cache, first-run costs)
        run_command(row["tree"], source, row["out"], row["threads"], realtime)
    for _ in range(reps):
        for row in rows:
            wall, cpu, rss = run_command(row["tree"], source, row["out"], row["threads"], realtime)
            row["wall"].append(wall)
            row["cpu"].append(cpu)
            row["rss"].append(rss)
    for row in rows:
        row["digest"] = hashlib.sha256(row["out"].read_bytes()).hexdigest()[:16]
    return rows


def table(rows: list[dict], seconds: float, rss: bool) -> list[str]:
    base = float(np.median(rows[0]["wall"]))
    head = "| way | wall median (min-max) s | x real time | wall vs first row | CPU median s |"
    rule = "|---|---|---|---|---|"
    if rss:
        head, rule = head + " peak RSS MiB |", rule + "---|"
    lines = [head + " output sha256 |", rule + "---|"]
    for row in rows:
        wall = float(np.median(row["wall"]))
        line = (f"| {row['name']} | {wall:.2f} ({min(row['wall']):.2f}-{max(row['wall']):.2f}) | "
                f"{seconds / wall:.1f} | {wall / base:.2f} | {float(np.median(row['cpu'])):.2f} |")
        if rss:
            line += f" {float(np.median(row['rss'])):.0f} |"
        lines.append(line + f" `{row['digest']}` |")
    return lines


def render(results: dict, seconds: float, reps: int, before: str | None) -> str:
    lines = [
        "## Offline path",
        "",
        f"Produced by `python benchmarks/bench_offline.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs "
        f"(load average {os.getloadavg()[0]:.1f} at the end of the run); {seconds:.0f} s stereo 44.1 kHz input "
        f"(the example mix, tiled), preset `builtin:violin`, {reps} interleaved runs of each way after a warm-up.",
        "",
        "The live path calls the separator once per 8192-sample block (32 frames) on both channels at once; "
        "the offline path (`fewshot_sep.realtime.offline`) calls it on 128 frames at a time and, with 2 threads, "
        "runs the channels of a stereo input in parallel on single-threaded sessions. Same output either way "
        "(equal sha256).",
        "",
    ]
    for priority, parts in results.items():
        lines += [f"### {priority}", "", "Arrays (`FewShotSeparator.process` and the engine, in one process):", ""]
        lines += table(parts["arrays"], seconds, rss=False)
        lines += ["", "Whole commands (`python -m fewshot_sep separate IN --preset builtin:violin --output OUT "
                  "[--threads 2]`, a process each, the child's own CPU time and peak RSS)"
                  + (f"; before = {before}:" if before else ":"),
                  ""]
        lines += table(parts["commands"], seconds, rss=True)
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="input length (default 60)")
    parser.add_argument("--reps", type=int, default=5, help="counted runs of each way (default 5)")
    parser.add_argument("--before-tree", type=Path, help="a checkout of an earlier commit whose `separate` to time too")
    parser.add_argument("--before-label", help="what the before tree is, for the text (default: its folder's name)")
    parser.add_argument("--priority", choices=("normal", "fifo", "both"), default="both")
    parser.add_argument("--no-write", action="store_true", help="print only, do not update docs/benchmarks.md")
    args = parser.parse_args()
    import soundfile as sf

    audio = make_input(args.seconds)
    trees = {"this tree": REPO}
    if args.before_tree:
        trees["before"] = args.before_tree.resolve()
    priorities = {"normal": [False], "fifo": [True], "both": [False, True]}[args.priority]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_offline_") as tmp:
        source = Path(tmp) / "stereo.wav"
        sf.write(source, audio.T, RATE, subtype="PCM_24")
        for realtime in priorities:
            if realtime and not fifo(True):
                print("SCHED_FIFO not permitted: those rows are left out")
                continue
            title = ("At SCHED_FIFO priority (free cores: the machine's other jobs wait)" if realtime
                     else "At normal priority (the machine's other jobs compete for the cores)")
            print(f"== {title}", flush=True)
            results[title] = {"arrays": time_arrays(audio, args.reps),
                              "commands": time_commands(trees, source, args.reps, realtime, Path(tmp))}
            fifo(False)
    before = (args.before_label or f"the tree in `{args.before_tree.name}`") if args.before_tree else None
    text = render(results, args.seconds, args.reps, before)
    print(text)
    if not args.no_write:
        write_doc_section(REPO / "docs" / "benchmarks.md", BEGIN, END, text)
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
