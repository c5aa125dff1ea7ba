"""onnxruntime vs torch on the same model and the same input, side by side.

Exports the model (a run folder / checkpoint, or a config with ``--untrained``)
into a temp folder, then times both back ends on identical inputs:

- streaming: separator calls of one frame (T = 1) for a stereo stream (B = 2),
  one thread, states carried; median / p99 / max per call in ms and the
  median as a share of the hop period (256 samples at 44.1 kHz = 5.8 ms);
- offline: one call over a long input (B = 2, 30 s of frames), one thread (onnxruntime in calls of
  128 frames for a separator that reads both channels, as the engine runs it);
  seconds of audio per second of wall time;
- encoder: 5 clips of 3 s in one call;
- onnxruntime variants for the single-frame call: graph optimisation level
  (disabled / basic / all), a pre-optimised file loaded with optimisation off,
  the ORT format, and I/O binding with preallocated outputs.

Prints a Markdown table and replaces the "onnxruntime vs torch" section of
docs/benchmarks.md (between its markers; other sections are left alone).

    python benchmarks/bench_export.py runs/release
    python benchmarks/bench_export.py configs/release.yaml --untrained
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from doc_sections import write_doc_section

from fewshot_sep.contract import HOP, SAMPLE_RATE

REPO = Path(__file__).resolve().parent.parent

SECTION = "onnxruntime vs torch"
BEGIN = f"<!-- BEGIN {SECTION} -->"
END = f"<!-- END {SECTION} -->"


def percentiles(times_s: list[float]) -> tuple[float, float, float]:
    """(median, p99, max) in milliseconds."""
    arr = np.asarray(times_s) * 1e3
    return float(np.median(arr)), float(np.percentile(arr, 99)), float(arr.max())


def time_calls(fn: Callable[[], object], n_calls: int, warmup: int = 20,
               cpu: list[float] | None = None) -> list[float]:
    """Wall seconds per call; with ``cpu`` also appends the calling thread's CPU seconds per call.

    Both back ends run on the calling thread here (one intra-op thread), so the
    thread's CPU time is the compute cost without the waiting a shared machine adds.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n_calls):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.thread_time() - c0)
    return times


def interleaved(fns: dict[str, Callable[[], object]], n_calls: int, rounds: int = 10, warmup: int = 20,
                cpu: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Time every function ``n_calls`` times, in ``rounds`` interleaved rounds.

    The machine is shared, so its load drifts; interleaving spreads that drift
    evenly over the back ends instead of penalising whichever ran last.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    per_round = max(1, n_calls // rounds)
    for _ in range(rounds):
        for name, fn in fns.items():
            sink = None if cpu is None else cpu.setdefault(name, [])
            times[name] += time_calls(fn, per_round, warmup=0, cpu=sink)
    return times


def make_session(path: Path, level: str = "all", optimized_out: Path | None = None):
    """One thread, optimisation `level` ("off", "basic", "extended", "all"): the package's factory."""
    from fewshot_sep.realtime.sessions import make_session as package_session

    return package_session(path, 1, optimization=level, optimized_model_path=optimized_out)


class OrtStream:
    """Single-frame streaming through an ORT session, states carried (plain ``run`` or I/O binding)."""

    def __init__(self, session, card: dict, magnitude: np.ndarray, conditioning: np.ndarray, binding: bool) -> None:
        import onnxruntime as ort

        self.session = session
        batch = magnitude.shape[0]
        self.state_names = [s["name"] for s in card["separator"]["states"]]
        self.states = [np.zeros([batch if d is None else d for d in s["shape"]], np.float32)
                       for s in card["separator"]["states"]]
        self.feed = {"magnitude": magnitude, "conditioning": conditioning}
        self.binding = None
        if binding:
            # Two sets of state buffers, swapped each call: outputs of call k are inputs of call k+1.
            self.ping = [ort.OrtValue.ortvalue_from_numpy(s.copy()) for s in self.states]
            self.pong = [ort.OrtValue.ortvalue_from_numpy(s.copy()) for s in self.states]
            self.mask = ort.OrtValue.ortvalue_from_numpy(np.zeros_like(magnitude[:, :1]))
            self.mag = ort.OrtValue.ortvalue_from_numpy(magnitude)
            self.cond = ort.OrtValue.ortvalue_from_numpy(conditioning)
            self.binding = session.io_binding()

    def step(self) -> None:
        if self.binding is None:
            outs = self.session.run(None, {**self.feed, **dict(zip(self.state_names, self.states))})
            self.states = outs[1:]
            return
        b = self.binding
        b.bind_ortvalue_input("magnitude", self.mag)
        b.bind_ortvalue_input("conditioning", self.cond)
        for name, value in zip(self.state_names, self.ping):
            b.bind_ortvalue_input(name, value)
        b.bind_ortvalue_output("mask", self.mask)
        for name, value in zip(self.state_names, self.pong):
            b.bind_ortvalue_output(f"{name}_out", value)
        self.session.run_with_iobinding(b)
        self.ping, self.pong = self.pong, self.ping


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", default=None,
                        help="run folder / checkpoint (default: runs/release if it has a checkpoint, "
                             "else configs/release.yaml with --untrained)")
    parser.add_argument("--untrained", action="store_true", help="SOURCE is a config: random weights")
    parser.add_argument("--calls", type=int, default=1000, help="single-frame calls per back end (default 1000)")
    parser.add_argument("--offline-seconds", type=float, default=30.0, help="audio length of the offline call")
    parser.add_argument("--repeats", type=int, default=3, help="offline calls timed (best taken)")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"), help="Markdown file to update")
    parser.add_argument("--no-write", action="store_true", help="print only")
    return parser.parse_args(argv)


def resolve_source(args: argparse.Namespace):
    """``(source, source_arg)``: the model to export (``load_source``) and how it was named."""
    from fewshot_sep.export.source import load_source

    source_arg, untrained = args.source, args.untrained
    if source_arg is None:
        release = REPO / "runs" / "release"
        if (release / "checkpoint.pt").is_file():
            source_arg = str(release)
        else:
            source_arg, untrained = str(REPO / "configs" / "release.yaml"), True
    return load_source(Path(source_arg), untrained=untrained), source_arg


def ort_variants(sep_path: Path, card: dict, frame: np.ndarray, conditioning: np.ndarray, tmp_path: Path
                 ) -> tuple[list[tuple[str, Callable[[], object]]], str]:
    """The onnxruntime single-frame contenders (label, maker of an OrtStream) and a note on the ORT format."""
    optimized = tmp_path / "separator.optimized.onnx"
    make_session(sep_path, "all", optimized_out=optimized)
    variants: list[tuple[str, Callable[[], object]]] = []
    for level in ("all", "extended", "basic", "off"):
        variants.append((f"onnxruntime, optimisation {level}",
                         lambda level=level: OrtStream(make_session(sep_path, level), card, frame, conditioning, False)))
    variants.append(("onnxruntime, pre-optimised file, optimisation off at load",
                     lambda: OrtStream(make_session(optimized, "off"), card, frame, conditioning, False)))
    variants.append(("onnxruntime, optimisation all + I/O binding",
                     lambda: OrtStream(make_session(sep_path, "all"), card, frame, conditioning, True)))
    ort_format_note = ""
    try:
        import subprocess

        proc = subprocess.run([sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort",
                               str(sep_path), "--output_dir", str(tmp_path / "ort")],
                              capture_output=True, text=True, timeout=300)
        ort_files = sorted((tmp_path / "ort").glob("*.ort"))
        if proc.returncode == 0 and ort_files:
            variants.append(("onnxruntime, ORT format (.ort)",
                             lambda: OrtStream(make_session(ort_files[0], "all"), card, frame, conditioning, False)))
        else:
            ort_format_note = f"ORT format conversion failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
    except (OSError, subprocess.SubprocessError) as exc:
        ort_format_note = f"ORT format conversion unavailable: {exc}"
    return variants, ort_format_note


def streaming_rows(sep, variants, frame: np.ndarray, conditioning: np.ndarray, calls: int) -> list[tuple]:
    """Single-frame calls (T = 1, B = 2), torch and every onnxruntime variant interleaved:
    ``(what, back end, median, p99, max, CPU ms)`` rows."""
    import torch

    batch = frame.shape[0]
    t_frame, t_cond = torch.from_numpy(frame), torch.from_numpy(conditioning)
    t_states = sep.initial_states(batch)

    def torch_step() -> None:
        nonlocal t_states
        with torch.inference_mode():
            outs = sep(t_frame, t_cond, *t_states)
        t_states = list(outs[1:])

    contenders: dict[str, Callable[[], object]] = {"torch (eager, inference_mode)": torch_step}
    for label, make in variants:
        contenders[label] = make().step
    rows = []
    stream_cpu: dict[str, list[float]] = {}
    for label, times in interleaved(contenders, calls, cpu=stream_cpu).items():
        med, p99, mx = percentiles(times)
        rows.append(("stream T=1 B=2", label, med, p99, mx, f"{np.median(stream_cpu[label]) * 1e3:.3f}"))
    return rows


def mask_parity(sep, sep_path: Path, frame: np.ndarray, conditioning: np.ndarray) -> float:
    """Max abs difference of the timed single-frame mask, torch vs onnxruntime (same input)."""
    import torch

    states0 = sep.initial_states(frame.shape[0])
    with torch.inference_mode():
        ref = sep(torch.from_numpy(frame), torch.from_numpy(conditioning), *states0)[0].numpy()
    sess = make_session(sep_path, "all")
    got = sess.run(["mask"], {"magnitude": frame, "conditioning": conditioning,
                              **{f"state_{i}": s.numpy() for i, s in enumerate(states0)}})[0]
    return float(np.max(np.abs(ref - got)))


def offline_rows(sep, sep_path: Path, conditioning: np.ndarray, long_mag: np.ndarray, seconds: float,
                 repeats: int, chunk_frames: int | None = None) -> list[tuple]:
    """One call over the whole input, torch vs onnxruntime: ``(back end, CPU s, wall s, x real time)``.
    With `chunk_frames`, onnxruntime gets calls of that many frames, states carried (what the
    engine's offline path does; a separator that reads both channels costs frames squared per call)."""
    import torch

    batch = long_mag.shape[0]
    t_long, t_cond = torch.from_numpy(long_mag), torch.from_numpy(conditioning)

    def torch_offline() -> None:
        with torch.inference_mode():
            sep(t_long, t_cond, *sep.initial_states(batch))

    ort_sess = make_session(sep_path, "all")
    zero = {f"state_{i}": s.numpy() for i, s in enumerate(sep.initial_states(batch))}

    def ort_offline() -> None:
        if chunk_frames is None:
            ort_sess.run(None, {"magnitude": long_mag, "conditioning": conditioning, **zero})
            return
        states = list(zero.values())
        for start in range(0, long_mag.shape[-1], chunk_frames):
            part = np.ascontiguousarray(long_mag[..., start:start + chunk_frames])
            states = ort_sess.run(None, {"magnitude": part, "conditioning": conditioning,
                                         **dict(zip(zero, states))})[1:]

    rows = []
    offline_cpu: dict[str, list[float]] = {}
    offline = interleaved({"torch (eager, inference_mode)": torch_offline,
                           "onnxruntime, optimisation all": ort_offline}, repeats, rounds=repeats,
                          warmup=1, cpu=offline_cpu)
    for label, times in offline.items():
        best_cpu = min(offline_cpu[label])
        rows.append((label, best_cpu, min(times), seconds / best_cpu))
    return rows


def encoder_rows(enc, encoder_path: Path, clips: np.ndarray) -> list[tuple]:
    """5 clips in one call, 20 calls: ``(back end, CPU ms median, wall ms median)``."""
    import torch

    enc_sess = make_session(encoder_path, "all")
    t_clips = torch.from_numpy(clips)

    def torch_encoder() -> None:
        with torch.inference_mode():
            enc(t_clips)

    rows = []
    encoder_cpu: dict[str, list[float]] = {}
    encoder_times = interleaved({"torch (eager, inference_mode)": torch_encoder,
                                 "onnxruntime, optimisation all": lambda: enc_sess.run(None, {"magnitude": clips})},
                                20, rounds=5, warmup=3, cpu=encoder_cpu)
    for label, times in encoder_times.items():
        med, _, _ = percentiles(times)
        rows.append((label, float(np.median(encoder_cpu[label])) * 1e3, med))
    return rows


def measure(args: argparse.Namespace, model, source) -> dict:
    """Export `model` into a temp folder and time both back ends; the figures for `report`."""
    from fewshot_sep.export import export_model

    sep, enc = model.separator, model.encoder
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        tmp_path = Path(tmp)
        result = export_model(model, tmp_path / "model", config=source.config, name=source.name,
                              training=source.training, show_progress=False)
        card = result.card
        sizes_mb = {p.name: p.stat().st_size / 1e6 for p in sorted(result.folder.glob("*.onnx"))}
        sep_path = result.folder / "separator.onnx"
        rng = np.random.default_rng(0)
        batch = 2
        emb = rng.standard_normal((batch, model.embedding_dim)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        conditioning = np.concatenate([emb, np.zeros_like(emb), np.zeros((batch, 1), np.float32)], axis=1)
        planes = int(card["separator"].get("input_planes", 1))  # 2: each channel read with the other one
        frame = (np.abs(rng.standard_normal((batch, planes, 513, 1))) * 5).astype(np.float32)
        variants, ort_format_note = ort_variants(sep_path, card, frame, conditioning, tmp_path)
        rows = streaming_rows(sep, variants, frame, conditioning, args.calls)
        parity = mask_parity(sep, sep_path, frame, conditioning)
        frames = int(args.offline_seconds * SAMPLE_RATE) // HOP
        long_mag = (np.abs(rng.standard_normal((batch, planes, 513, frames))) * 5).astype(np.float32)
        offline = offline_rows(sep, sep_path, conditioning, long_mag, args.offline_seconds, args.repeats,
                               chunk_frames=128 if planes == 2 else None)  # the engine's offline calls
        clip_frames = int(card["clip_seconds"] * SAMPLE_RATE) // HOP
        clips = (np.abs(rng.standard_normal((5, 1, 513, clip_frames))) * 5).astype(np.float32)
        encoder = encoder_rows(enc, result.folder / "encoder.onnx", clips)
    return {"card": card, "sizes_mb": sizes_mb, "rows": rows, "ort_format_note": ort_format_note,
            "parity": parity, "frames": frames, "offline_rows": offline, "encoder_rows": encoder}


def report(args: argparse.Namespace, argv: list[str] | None, source, source_arg: str, r: dict) -> str:
    """The Markdown section."""
    import onnxruntime as ort
    import torch

    card, hop_ms = r["card"], HOP / SAMPLE_RATE * 1e3
    status = source.training.get("status", "unknown")
    model_note = ("UNTRAINED weights (timings do not depend on the weights)" if status == "untrained"
                  else f"trained checkpoint {source_arg}")
    load = os.getloadavg()
    lines = [
        f"## {SECTION}",
        "",
        f"Same model, same inputs; torch {torch.__version__} vs onnxruntime {ort.__version__}, CPU, "
        "**one thread** each (`torch.set_num_threads(1)`, `intra_op_num_threads = 1`).",
        "",
        f"- model: `{card['name']}` ({model_note}), {len(card['separator']['states'])} states, "
        f"E = {card['embedding_dim']}; "
        + ", ".join(f"{name} {mb:.1f} MB" for name, mb in r["sizes_mb"].items()),
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs shared with "
        f"other jobs (load average {load[0]:.1f} / {load[1]:.1f} at the end), Python {platform.python_version()}",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; command: "
        f"`python benchmarks/bench_export.py{' ' + ' '.join(argv) if argv else ''}`",
        f"- max abs difference of the timed single-frame mask, torch vs onnxruntime: {r['parity']:.2g}",
        "",
        f"### Streaming: one separator call per hop (T = 1 frame, B = 2 channels), {args.calls} calls each, "
        "back ends interleaved in 10 rounds",
        "",
        f"Hop period at 44.1 kHz: {hop_ms:.2f} ms.",
        "",
        "Wall-clock times include waiting for a core on this shared machine; the CPU column (the calling "
        "thread's CPU time per call, median) is the compute cost and the fairer comparison.",
        "",
        "| back end | CPU ms (median) | wall median ms | wall p99 ms | wall max ms | wall median / hop period |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for _, label, med, p99, mx, cpu_ms in r["rows"]:
        lines.append(f"| {label} | {cpu_ms} | {med:.3f} | {p99:.3f} | {mx:.3f} | {med / hop_ms:.1%} |")
    if r["ort_format_note"]:
        lines += ["", r["ort_format_note"]]
    lines += [
        "",
        f"### Offline: one call over {args.offline_seconds:g} s of stereo audio ({r['frames']} frames, B = 2), "
        f"best of {args.repeats}"
        + (" (onnxruntime: calls of 128 frames, states carried, as the engine's offline path; the separator "
           "reads both channels)" if r["card"]["separator"].get("input_planes", 1) == 2 else ""),
        "",
        "| back end | CPU s | wall s | x real time (by CPU time, one core) |",
        "|---|---:|---:|---:|",
    ]
    for label, best_cpu, best_wall, speed in r["offline_rows"]:
        lines.append(f"| {label} | {best_cpu:.3f} | {best_wall:.3f} | {speed:.1f} |")
    lines += [
        "",
        f"### Encoder: 5 clips of {card['clip_seconds']:g} s in one call, 20 calls",
        "",
        "| back end | CPU ms (median) | wall median ms |",
        "|---|---:|---:|",
    ]
    for label, cpu_ms, med in r["encoder_rows"]:
        lines.append(f"| {label} | {cpu_ms:.2f} | {med:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)
    source, source_arg = resolve_source(args)
    model = source.model.eval()
    results = measure(args, model, source)
    markdown = report(args, argv, source, source_arg, results)
    print(markdown)
    if not args.no_write:
        write_doc_section(Path(args.out), BEGIN, END, markdown.rstrip())
        print(f"updated the '{SECTION}' section of {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
