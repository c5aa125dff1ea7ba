"""Benchmark of the streaming engine (fewshot_sep.realtime); writes docs/benchmarks.md.

Usage:
    python benchmarks/bench_realtime.py [--model DIR] [--no-write] [--quick]

Measures, for the model in --model (default: the packaged model if present,
else the identity test double, which measures the engine's own overhead):
- live: per-block processing time (median, p99, max) for block sizes 64..1024 at
  44.1 and 48 kHz, stereo, one onnxruntime thread, as a fraction of the block period;
- stereo handling: per-channel masks vs one shared mask from the mid signal
  (time per block, and the quality ceiling of each with oracle ratio masks);
- resampling: the polyphase resampler's filter (centre, taps), pass-band
  ripple, alias / image rejection, the impulse position through the whole
  engine and the resulting latency for each host rate;
- offline: throughput (x real time, median of 3 runs) for a 3-minute stereo
  44.1 kHz input, one thread per channel vs one session with 2 intra-op
  threads, and peak RSS for a 10-minute input streamed through
  ``iter_offline`` (measured in a child process).
The table goes between markers in docs/benchmarks.md, section "Streaming engine".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from doc_sections import write_doc_section

from fewshot_sep.realtime.engine import StreamingSeparator
from fewshot_sep.realtime.model_files import ModelFiles, packaged_model_dir
from fewshot_sep.realtime.resampler import StreamResampler, filter_spec
from fewshot_sep.realtime.stft import istft, stft

REPO = Path(__file__).resolve().parents[1]


BEGIN = "<!-- BEGIN streaming-engine (benchmarks/bench_realtime.py) -->"
END = "<!-- END streaming-engine -->"
BLOCKS = (64, 128, 256, 512, 1024)
RATES = (44100, 48000)


def identity_double() -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from model_doubles import make_model_folder

    return make_model_folder(Path(tempfile.mkdtemp(prefix="bench_double_")), "identity")


def resolve_models(args: list[str] | None) -> list[tuple[Path, str]]:
    """``--model`` folders, or by default the packaged model (if present) and the identity double."""
    if args:
        return [(Path(a), f"`{a}`") for a in args]
    models = []
    if packaged_model_dir().is_dir():
        models.append((packaged_model_dir(), "packaged model `fewshot_sep/assets/model`"))
    models.append((identity_double(), "identity test double (the engine's own overhead)"))
    return models


class RealtimePriority:
    """Run the timed loop at SCHED_FIFO priority, as audio callbacks run (if permitted)."""

    def __enter__(self) -> "RealtimePriority":
        self.active = False
        try:
            self.previous = (os.sched_getscheduler(0), os.sched_getparam(0))
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
            self.active = True
        except (AttributeError, PermissionError, OSError):
            pass
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            os.sched_setscheduler(0, self.previous[0], self.previous[1])


def noise(channels: int, n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, n)) * 0.1).astype(np.float32)


def live_timing(model: Path, rate: int, block: int, seconds: float, stereo: str = "per_channel") -> dict:
    engine = StreamingSeparator(model, sample_rate=rate, num_channels=2, stereo=stereo)
    n_blocks = int(seconds * rate / block)
    x = noise(2, block * 64, seed=block)
    out = np.zeros((2, block), dtype=np.float32)
    for i in range(200):  # warm-up (bindings, caches)
        engine.process_block(x[:, (i % 64) * block : (i % 64 + 1) * block], out=out)
    times = np.empty(n_blocks)
    cpu = np.empty(n_blocks)
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    with RealtimePriority() as priority:
        for i in range(n_blocks):
            blk = x[:, (i % 64) * block : (i % 64 + 1) * block]
            c0 = cpu_clock()
            t0 = clock()
            engine.process_block(blk, out=out)
            times[i] = clock() - t0
            cpu[i] = cpu_clock() - c0
    period_ns = block / rate * 1e9
    return {
        "rate": rate,
        "block": block,
        "period_ms": block / rate * 1e3,
        "median": float(np.median(times) / period_ns),
        "p99": float(np.percentile(times, 99) / period_ns),
        "max": float(times.max() / period_ns),
        "median_us": float(np.median(times) / 1e3),
        "cpu_median": float(np.median(cpu) / period_ns),
        "cpu_p99": float(np.percentile(cpu, 99) / period_ns),
        "blocks": n_blocks,
        "sched_fifo": priority.active,
    }


def tone_response(rate_in: int, rate_out: int, freq: float) -> tuple[float, float]:
    """Resample a sine with the engine's resampler: (gain dB, residual dB re the input's amplitude).

    The fit is a sine at the tone's (possibly aliased) output frequency, timed
    as a pure delay of the filter's centre; the residual is everything else
    (images, aliases, numerical noise)."""
    r = StreamResampler(rate_in, rate_out, 1, rate_in)
    x = np.sin(2 * np.pi * freq * np.arange(rate_in) / rate_in).astype(np.float32)[None]
    out = np.zeros((1, r.max_output(rate_in)), dtype=np.float32)
    y = out[0, : r.process(x, out)].astype(np.float64)
    idx = np.arange(y.size // 4, 3 * y.size // 4)
    t = idx / rate_out - r.center / r.common
    f_out = freq if freq < rate_out / 2 else rate_out - freq
    basis = np.stack([np.sin(2 * np.pi * f_out * t), np.cos(2 * np.pi * f_out * t)], axis=1)
    coef = np.linalg.lstsq(basis, y[idx], rcond=None)[0]
    residual = y[idx] - basis @ coef
    return 20 * np.log10(np.hypot(*coef) + 1e-12), 20 * np.log10(np.sqrt(2 * np.mean(residual**2)) + 1e-12)


def resampler_quality(host: int, model_rate: int) -> dict:
    """Pass-band ripple (both stages, up to the pass-band edge), alias rejection (host -> model, tones
    above the model's Nyquist, only when the host rate is higher) and in-band residual (images)."""
    spec = filter_spec(host, model_rate)
    ripple, residual = 0.0, -300.0
    for a, b in ((host, model_rate), (model_rate, host)):
        for f in np.linspace(30.0, spec.passband_hz, 25):
            g, res = tone_response(a, b, f)
            ripple, residual = max(ripple, abs(g)), max(residual, res)
    alias = None
    if host > model_rate:
        alias = max(tone_response(host, model_rate, f)[0] for f in np.linspace(model_rate / 2 + 20, host / 2 - 20, 15))
    return {"passband_hz": spec.passband_hz, "ripple_db": ripple, "residual_db": residual, "alias_db": alias}


def resampling_rows(model: Path) -> list[dict]:
    rows = []
    model_rate = ModelFiles.load(model).sample_rate
    for host in (22050, 44100, 48000, 88200, 96000):
        engine = StreamingSeparator(model, sample_rate=host, num_channels=1)
        x = np.zeros((1, engine.latency_samples + host // 2), dtype=np.float32)
        x[0, 1000] = 1.0
        y = np.concatenate([engine.process_block(x[:, i : i + 256]) for i in range(0, x.shape[1], 256)], axis=1)
        row = {
            "host": host,
            "latency": engine.latency_samples,
            "latency_ms": engine.latency_samples / host * 1e3,
            "impulse_at": int(np.argmax(np.abs(y[0]))) - 1000,
        }
        if host != model_rate:
            live = engine._live
            row["filters"] = f"{live.down.taps} / {live.up.taps}"
            row["centers_ms"] = f"{live.down.center / live.down.common * 1e3:.2f} / {live.up.center / live.up.common * 1e3:.2f}"
            row.update(resampler_quality(host, model_rate))
        rows.append(row)
    return rows


def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    ref, est = ref.ravel().astype(np.float64), est.ravel().astype(np.float64)
    alpha = (est @ ref) / (ref @ ref)
    target = alpha * ref
    return float(10 * np.log10((target @ target) / ((est - target) @ (est - target) + 1e-12)))


def stereo_oracle_quality() -> dict:
    """Quality ceiling of per-channel vs shared (mid) masks with ideal ratio masks.

    Target: harmonic tones panned 80 % left; interference: noise bursts panned
    80 % right plus a centred bass. The ideal ratio mask is computed per
    channel, or once from the mid signal and applied to both channels.
    """
    sr, n = 44100, 44100 * 6
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    tones = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((440, 880, 1320, 1760), 1))
    tones *= 0.5 * (1 + np.sign(np.sin(2 * np.pi * 1.5 * t)))
    burst = rng.standard_normal(n) * (np.sin(2 * np.pi * 0.7 * t) > 0)
    bass = np.sin(2 * np.pi * 82 * t)
    target = np.stack([0.8 * tones, 0.2 * tones]) * 0.2
    other = np.stack([0.2 * burst, 0.8 * burst]) * 0.1 + 0.1 * bass
    mix = target + other
    S_mix, S_tgt, S_oth = stft(mix), stft(target), stft(other)
    eps = 1e-8
    irm = np.abs(S_tgt) / (np.abs(S_tgt) + np.abs(S_oth) + eps)
    mid_t, mid_o = stft(target.mean(0)), stft(other.mean(0))
    irm_mid = np.abs(mid_t) / (np.abs(mid_t) + np.abs(mid_o) + eps)
    lat = 1023
    ref = target[:, : n - lat]
    per = istft(S_mix * irm, n)[:, lat:]
    shared = istft(S_mix * irm_mid[None], n)[:, lat:]
    return {
        "mixture": si_sdr(mix[:, : n - lat], ref),
        "per_channel": si_sdr(per, ref),
        "shared": si_sdr(shared, ref),
    }


def offline_throughput(model: Path, seconds: float, threads: int, split_channels: bool = True, reps: int = 3) -> dict:
    """x real time of ``process_offline`` (median of ``reps`` runs); split_channels=False: one session, ``threads`` threads."""
    x = noise(2, int(seconds * 44100), seed=5)
    walls = []
    for _ in range(reps):
        # Sessions and worker threads are created inside the priority context so the workers inherit it.
        with RealtimePriority() as priority:
            engine = StreamingSeparator(model, sample_rate=44100, num_channels=2, offline_threads=threads)
            engine._offline_split = split_channels
            engine.process_offline(x[:, : 44100 * 5])  # warm-up
            t0 = time.perf_counter()
            engine.process_offline(x)
            walls.append(time.perf_counter() - t0)
    wall = float(np.median(walls))
    return {
        "seconds": seconds,
        "wall": wall,
        "x_realtime": seconds / wall,
        "runs_x_realtime": [round(seconds / w, 1) for w in walls],
        "threads": threads,
        "split_channels": split_channels,
        "sched_fifo": priority.active,
        "chunk_frames": engine.offline_chunk_frames,
    }


def rss_child(model: str, seconds: float) -> None:
    """Child process: stream `seconds` of stereo noise through iter_offline; print peak RSS."""
    engine = StreamingSeparator(model, sample_rate=44100, num_channels=2, offline_threads=2)
    chunk = 44100 * 10
    total = int(seconds * 44100)
    rng = np.random.default_rng(0)
    before = proc_status_kib("VmHWM")

    def chunks():
        for start in range(0, total, chunk):
            yield (rng.standard_normal((2, min(chunk, total - start))) * 0.1).astype(np.float32)

    done = 0
    for y in engine.iter_offline(chunks(), total_samples=total):
        done += y.shape[1]
    assert done == total
    peak = proc_status_kib("VmHWM")
    print(json.dumps({"peak_rss_mib": peak / 1024, "rss_before_mib": before / 1024}))


def proc_status_kib(field: str) -> int:
    """A /proc/self/status memory figure in KiB (VmHWM = peak RSS of this process image;
    getrusage's ru_maxrss is not used because Linux carries it over from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss(model: Path, seconds: float) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(model), "--rss-seconds", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def render_model(desc: str, card: dict, r: dict) -> list[str]:
    live, stereo, offline, rss = r["live"], r["stereo"], r["offline"], r["rss"]
    fifo = all(x["sched_fifo"] for x in live)
    lines = [
        f"### Model: {desc}",
        "",
        f"`{card.get('name')}`, id `{card.get('model_id')}`, {len(card.get('separator', {}).get('states', []))} state tensors.",
        "",
        "#### Live: processing time per block (stereo, per-channel masks, 1 onnxruntime thread), fraction of the block period",
        "",
        ("The timed loop ran at SCHED_FIFO priority (as an audio callback thread does), so other jobs on the "
         "machine could not preempt it; " if fifo else "The timed loop ran at normal priority (SCHED_FIFO not permitted), "
         "so wall times include preemption by other jobs; ")
        + "CPU time is the calling thread's own CPU time for the same blocks.",
        "",
        "| rate | block | period (ms) | wall median | wall p99 | wall max | CPU median | CPU p99 | wall median (µs) | blocks timed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in live:
        lines.append(
            f"| {x['rate']} | {x['block']} | {x['period_ms']:.2f} | {x['median']:.3f} | {x['p99']:.3f} | "
            f"{x['max']:.3f} | {x['cpu_median']:.3f} | {x['cpu_p99']:.3f} | {x['median_us']:.0f} | {x['blocks']} |"
        )
    target = next((x for x in live if x["rate"] == 48000 and x["block"] == 256), None)
    if target:
        verdict = "met" if target["p99"] <= 0.5 else "NOT met"
        lines += ["", f"Target wall p99 <= 0.5 of the period at 256 samples / 48 kHz: {target['p99']:.3f} ({verdict})."]
    lines += [
        "",
        "#### Stereo: per-channel masks vs one shared mask from the mid signal (48 kHz)",
        "",
        "| stereo | block | wall median | wall p99 | CPU median | CPU p99 |",
        "|---|---|---|---|---|---|",
    ]
    for x in stereo:
        lines.append(
            f"| {x['stereo']} | {x['block']} | {x['median']:.3f} | {x['p99']:.3f} | {x['cpu_median']:.3f} | {x['cpu_p99']:.3f} |"
        )
    lines += [
        "",
        "#### Offline",
        "",
        f"- {offline['seconds']:.0f}-second stereo 44.1 kHz input, `process_offline`, "
        f"{offline['chunk_frames']} frames per separator call"
        + (", at SCHED_FIFO priority (the machine's other jobs would otherwise take most of the 2 cores)" if offline["sched_fifo"] else "")
        + f", median of {len(offline['runs_x_realtime'])} runs: each channel in its own thread with a 1-thread session "
        f"(the default): {offline['wall']:.2f} s wall = **{offline['x_realtime']:.1f}x real time** "
        f"(runs {offline['runs_x_realtime']}); one session with 2 intra-op threads on the stereo batch: "
        f"{r['offline_one_session']['x_realtime']:.1f}x (runs {r['offline_one_session']['runs_x_realtime']}).",
        f"- Peak RSS of a process streaming a {r['rss_seconds'] / 60:.0f}-minute stereo input through `iter_offline` "
        f"(10-second chunks): **{rss['peak_rss_mib']:.0f} MiB** ({rss['rss_before_mib']:.0f} MiB before "
        "processing: interpreter, numpy, onnxruntime, model).",
        "",
    ]
    return lines


def render(results: list[tuple[str, dict, dict]], quality: dict, res: list[dict]) -> str:
    lines = [
        "## Streaming engine",
        "",
        f"Produced by `python benchmarks/bench_realtime.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs "
        f"(load average {os.getloadavg()[0]:.1f} at the end of the run); "
        f"numpy {np.__version__}, onnxruntime {__import__('onnxruntime').__version__}.",
        "",
        "The identity double's separator costs almost nothing, so its rows are the engine's own overhead "
        "(STFT, bookkeeping, resampling, one onnxruntime call per block that completes a frame).",
        "",
    ]
    for desc, card, r in results:
        lines += render_model(desc, card, r)
    lines += [
        "### Stereo handling: quality ceiling",
        "",
        "Oracle ideal ratio masks, SI-SDR in dB vs the stereo target (target panned 80 % left, interference "
        "panned 80 % right plus a centred bass): "
        f"mixture {quality['mixture']:.1f}, per-channel masks {quality['per_channel']:.1f}, "
        f"shared mid mask {quality['shared']:.1f}.",
        "",
        "### Latency per host rate (polyphase resampler, quality HQ, for rates other than the model's)",
        "",
        "| host rate | latency (samples) | latency (ms) | impulse measured at | filter taps per output (down / up) | "
        "filter delay ms (down / up) | pass band | max pass-band ripple | worst residual (images) | worst alias |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in res:
        if "filters" in x:
            alias = "-" if x["alias_db"] is None else f"{x['alias_db']:.1f} dB"
            lines.append(
                f"| {x['host']} | {x['latency']} | {x['latency_ms']:.1f} | {x['impulse_at']} | {x['filters']} | "
                f"{x['centers_ms']} | 0-{x['passband_hz'] / 1e3:.2f} kHz | {x['ripple_db']:.4f} dB | "
                f"{x['residual_db']:.1f} dB | {alias} |"
            )
        else:
            lines.append(f"| {x['host']} | {x['latency']} | {x['latency_ms']:.1f} | {x['impulse_at']} | - | - | - | - | - | - |")
    lines += [
        "",
        "The resamplers are linear-phase Kaiser-windowed sinc filters evaluated as polyphase FIRs "
        "(`fewshot_sep/realtime/resampler.py`); their centres are chosen so the whole chain's delay is a whole number "
        "of host samples (the impulse comes out exactly `latency` samples later), and they produce a fixed number "
        "of samples per block, so no FIFO padding is needed. Ripple and residual are measured with tones through "
        "both stages (host -> model and model -> host) up to the pass-band edge; the alias column is the loudest "
        "fold-back of a tone between the model's and the host's Nyquist frequency (host -> model).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> Path:
    path = REPO / "docs" / "benchmarks.md"
    write_doc_section(path, BEGIN, END, text)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", action="append", help="model folder, repeatable (default: packaged model if present + identity double)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only, do not update docs/benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    parser.add_argument("--rss-seconds", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.rss_seconds)
        return 0
    seconds = 2.0 if args.quick else 20.0
    results = []
    for model, desc in resolve_models(args.model):
        card = ModelFiles.load(model).card
        print(f"== {desc}", flush=True)
        r: dict = {"live": [], "stereo": []}
        for rate in RATES:
            for block in BLOCKS:
                r["live"].append(live_timing(model, rate, block, seconds))
                print(json.dumps(r["live"][-1]), flush=True)
        for mode in ("per_channel", "shared"):
            for block in (256, 1024):
                x = live_timing(model, 48000, block, seconds, stereo=mode)
                x["stereo"] = mode
                r["stereo"].append(x)
                print(json.dumps(x), flush=True)
        offline_seconds = 20.0 if args.quick else 180.0
        r["offline"] = offline_throughput(model, offline_seconds, threads=2, split_channels=True)
        print(json.dumps(r["offline"]), flush=True)
        r["offline_one_session"] = offline_throughput(model, offline_seconds, threads=2, split_channels=False)
        print(json.dumps(r["offline_one_session"]), flush=True)
        r["rss_seconds"] = 60.0 if args.quick else 600.0
        r["rss"] = peak_rss(model, r["rss_seconds"])
        print(json.dumps(r["rss"]), flush=True)
        results.append((desc, card, r))
    quality = stereo_oracle_quality()
    res = resampling_rows(resolve_models(args.model)[-1][0])
    text = render(results, quality, res)
    print(text)
    if not args.no_write:
        print(f"wrote {write_section(text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
