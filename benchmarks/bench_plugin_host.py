"""Benchmark of the host layer (fewshot_sep.plugin_host): latency, offline speed, live load.

Usage:
    python benchmarks/bench_plugin_host.py [--model DIR] [--seconds 30] [--live] [--live-seconds 10]

Prints (does not write any file):
- the algorithmic latency at each supported host rate;
- offline speed of `stream_file` (what `fewshot-sep separate` runs): seconds of
  stereo 44.1 kHz audio per second of wall time;
- with --live: the live host on a JACK dummy server (started here, realtime
  scheduling if allowed) at 44.1 kHz / 256 and 48 kHz / 256: callback load,
  latency, xruns. Needs jackd and the JACK-Client package.

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
sys.path.insert(0, str(REPO))
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
    return (0.1 * np.random.default_rng(0).standard_normal(model.conditioning_dim)).astype(np.float32)


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


def live_runs(model, seconds: float) -> None:
    import pytest  # live_jack_helpers skips through pytest when jackd is missing

    import live_jack_helpers as jh
    import sounddevice as sd

    from fewshot_sep.plugin_host.live_host import LiveHost, reinitialize_portaudio
    from plugin_helpers import tapered_tones

    for rate, block in ((44100, 256), (48000, 256)):
        try:
            server = jh.start_jack_server(Path(tempfile.mkdtemp()), sample_rate=rate, period=block)
        except pytest.skip.Exception as skip:
            print(f"live: skipped ({skip})")
            return
        os.environ["JACK_DEFAULT_SERVER"] = server.name
        try:
            reinitialize_portaudio()
            host = LiveHost([conditioning_for(model)], model=model, input_device="JACK", output_device="JACK",
                            samplerate=rate, blocksize=block, channels=2, out=io.StringIO())
            host.start()
            player = jh.PlayRecord(server.name, host, tapered_tones(seconds, rate, 2), tail=0)
            time.sleep(0.5)
            host.reset_counters()
            player.play()
            player.wait(seconds * 3 + 10)
            summary = host.stop()
            player.close()
            mode = "realtime" if server.realtime else "NON-realtime"
            print(f"live {rate} Hz / {block} ({mode} jackd):\n{summary.text()}\n")
        finally:
            sd._terminate()
            jh.stop_jack_server(server)
            sd._initialize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--seconds", type=float, default=30.0, help="offline test length")
    parser.add_argument("--live", action="store_true", help="also run the live host on a JACK dummy server")
    parser.add_argument("--live-seconds", type=float, default=10.0)
    args = parser.parse_args()
    model, origin = resolve_model(args.model)
    print(f"model: {model.name} ({model.model_id}, {origin}); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores\n")
    latency_table(model)
    print()
    offline_speed(model, args.seconds)
    if args.live:
        print()
        live_runs(model, args.live_seconds)


if __name__ == "__main__":
    main()
