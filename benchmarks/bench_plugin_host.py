"""Benchmark of the host layer (fewshot_sep.plugin_host): latency, offline speed, live load.

Usage:
    python benchmarks/bench_plugin_host.py [--model DIR] [--seconds 30] [--live] [--live-seconds 10]
                                           [--live-repeats 4] [--write]

Prints (writes docs/benchmarks.md only with --write):
- the algorithmic latency at each supported host rate;
- offline speed of `stream_file` (what `fewshot-sep separate` runs): seconds of
  stereo 44.1 kHz audio per second of wall time;
- with --live: the live host on a JACK dummy server (started here, realtime
  scheduling if allowed) at 44.1 kHz / 256, 48 kHz / 256 and 48 kHz / 512,
  ``--live-repeats`` runs each: callback load, callbacks over their period,
  xruns and jackd's late-cycle / late-client events, latency; as a Markdown table,
  written into docs/benchmarks.md ("Live callback load") with --write. Needs
  jackd and the JACK-Client package.

--model defaults to the packaged model if present, else the identity test double
(which measures the host's and engine's own overhead only).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def resolve_model(arg: str | None):
    from fewshot_sep.realtime.model_files import ModelFiles, packaged_model_dir

    if arg:
        return ModelFiles.load(arg), "given with --model"
    if packaged_model_dir().is_dir():
        return ModelFiles.load(None), "packaged model"
    from model_doubles import make_model_folder

    folder = make_model_folder(Path(tempfile.mkdtemp(prefix="bench_double_")), "identity")
    return ModelFiles.load(folder), "identity test double (overhead only)"


def conditioning_for(model) -> np.ndarray:
    """A random positive embedding of unit length (what the L2-normalised encoder makes), no negatives."""
    vector = np.zeros(model.conditioning_dim, dtype=np.float32)
    e = model.embedding_dim
    v = np.random.default_rng(0).standard_normal(e)
    vector[:e] = v / np.linalg.norm(v)
    return vector


def latency_table(model) -> None:
    from fewshot_sep.realtime.engine import SUPPORTED_HOST_RATES, StreamingSeparator

    print("| host rate | latency samples | ms |\n|---|---|---|")
    for rate in SUPPORTED_HOST_RATES:
        latency = StreamingSeparator(model, rate, 2).latency_samples
        print(f"| {rate} | {latency} | {1000 * latency / rate:.1f} |")


def offline_speed(model, seconds: float) -> None:
    import soundfile as sf

    from fewshot_sep.plugin_host import FewShotSeparator, stream_file

    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal((2, int(seconds * 44100)))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.wav"
        sf.write(src, audio.T, 44100)
        separator = FewShotSeparator(conditioning=conditioning_for(model), model=model)
        start = time.perf_counter()
        stream_file([separator], src, [Path(tmp) / "out.wav"], progress=False)
        wall = time.perf_counter() - start
    print(f"offline: {seconds:.0f} s stereo 44.1 kHz in {wall:.1f} s = {seconds / wall:.1f}x real time")


LIVE_BEGIN, LIVE_END = "<!-- BEGIN Live callback load -->", "<!-- END Live callback load -->"
LIVE_SETTINGS = ((44100, 256), (48000, 256), (48000, 512))


def live_runs(model, seconds: float, repeats: int) -> str | None:
    """Run the live host on a JACK dummy server per setting; return a Markdown table (None: no jackd)."""
    import pytest  # live_jack_helpers fails through pytest when jackd is missing

    import live_jack_helpers as jh
    import sounddevice as sd

    from fewshot_sep.plugin_host.live.host import LiveHost, reinitialize_portaudio
    from plugin_helpers import tapered_tones

    rows = []
    for rate, block in LIVE_SETTINGS:
        try:
            server = jh.start_jack_server(Path(tempfile.mkdtemp()), sample_rate=rate, period=block)
        except pytest.fail.Exception as missing:
            print(f"live: not run ({missing})")
            return None
        os.environ["JACK_DEFAULT_SERVER"] = server.name
        runs = []
        try:
            reinitialize_portaudio()
            for _ in range(repeats):
                host = LiveHost([conditioning_for(model)], model=model, input_device="JACK", output_device="JACK",
                                samplerate=rate, blocksize=block, channels=2, out=io.StringIO())
                host.start()
                player = jh.PlayRecord(server.name, host, tapered_tones(seconds, rate, 2), tail=0)
                time.sleep(0.5)
                log_start = len(server.log())
                host.reset_counters()
                player.play()
                player.wait(seconds * 3 + 10)
                summary = host.stop()
                player.close()
                runs.append((summary, *jh.late_events(server.log()[log_start:])))
            mode = "realtime" if server.realtime else "NON-realtime"
        finally:
            sd._terminate()
            jh.stop_jack_server(server)
            sd._initialize()
        loads = [r[0].mean_load for r in runs]
        rows.append(
            f"| {rate} | {block} | {1000 * block / rate:.2f} | {len(runs)} | {100 * float(np.median(loads)):.1f} | "
            f"{100 * max(r[0].max_load for r in runs):.1f} | "
            f"{sum(r[0].xrun_callbacks > 0 for r in runs)} | {sum(r[0].overruns for r in runs)} | "
            f"{sum(r[2] for r in runs)} | {sum(r[1] for r in runs)} | "
            f"{1000 * (runs[0][0].latency_algorithmic_s + runs[0][0].latency_device_s):.1f} | {mode} |")
    return "\n".join([
        "| rate | block | period (ms) | runs | mean load, median of runs (%) | max load, all runs (%) | "
        "runs with an xrun | callbacks over the period | late clients (jackd) | late driver cycles (jackd) | "
        "latency (ms) | jackd |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ])


def write_live_section(model, origin: str, table: str, seconds: float, path: Path) -> None:
    import platform

    from doc_sections import write_doc_section

    write_doc_section(path, LIVE_BEGIN, LIVE_END, "\n".join([
        "## Live callback load",
        "",
        f"Produced by `python benchmarks/bench_plugin_host.py --live --write` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end); model {model.name} `{model.model_id}` ({origin}).",
        "",
        f"The live host (`LiveHost`, stereo, per-channel masks) on a JACK dummy server, {seconds:.0f} s of "
        "tones per run. Load is the callback's wall time as a fraction of the block period (what the "
        "host prints); a run with an xrun is one where PortAudio flagged at least one callback. jackd runs "
        "synchronously (`-S`), so a callback over its period delays the next cycle and shows in jackd's log "
        "as a late driver cycle, like a late wake-up of the dummy driver's own timer; the callbacks-over-"
        "the-period column tells the two apart. The tone player is a second JACK client in the same Python "
        "process (it competes for the GIL), so these loads are higher than the `live` command's alone.",
        "",
        table,
    ]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--seconds", type=float, default=30.0, help="offline test length")
    parser.add_argument("--live", action="store_true", help="also run the live host on a JACK dummy server")
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--live-repeats", type=int, default=4, help="runs per live setting")
    parser.add_argument("--write", action="store_true",
                        help="write the live table into docs/benchmarks.md (section 'Live callback load')")
    args = parser.parse_args()
    model, origin = resolve_model(args.model)
    print(f"model: {model.name} ({model.model_id}, {origin}); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores\n")
    latency_table(model)
    print()
    offline_speed(model, args.seconds)
    if args.live:
        print()
        table = live_runs(model, args.live_seconds, args.live_repeats)
        if table:
            print(table)
            if args.write:
                write_live_section(model, origin, table, args.live_seconds, REPO / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
