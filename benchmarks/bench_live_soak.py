"""Live soak: the live host for a long run on a real JACK server, with a performer and a neighbour.

Usage:
    python benchmarks/bench_live_soak.py [--minutes 30] [--model DIR] [--switch-seconds 3]
                                         [--neighbour-load 0.25] [--neighbour-work loop|model]
                                         [--record DIR] [--write]

Starts ``jackd -n NAME -d dummy -r 48000 -p 256`` (own server name, realtime
scheduling if allowed, synchronous), runs the `live` host (``LiveHost``, stereo,
packaged model unless --model) with the built-in presets, and for ``--minutes``:

- a player JACK client loops 10 s of tones + noise into the host's inputs;
- a *neighbour* JACK client in another process does fixed work worth ``--neighbour-load``
  of a period (calibrated at its start) in every process callback (the machine is loaded,
  as beside a DAW), and records each period's wall and CPU time: a control for the machine
  (same work every period, so a period far over its median is the machine running slower);
- every ``--switch-seconds`` the main thread does what a performer does: next preset
  (crossfaded), toggle isolate/remove, a new mix (0..1), bypass on/off now and then;
- the host's RSS is sampled every 10 s.

Reports (and with --write puts into docs/benchmarks.md, section "Live soak"):
callbacks, the callback's load (mean, p50, p99, p99.9, max, as a fraction of
the block period; every callback's load is kept in a preallocated array), callbacks
over the period and why (`overrun_causes`: the callback's own CPU time over the period,
blocked in the host's process, preempted, or off the CPU below the guest; how many fell in
a preset fade), xruns seen by PortAudio, jackd's late driver cycles and late clients (the
neighbour apart), errors in the callback, and RSS at 1 minute, at the end and its maximum
(growth after the first minute is what a leak would show); the own-work overruns' CPU time
against the median callback, and how many fell within a period of one of the neighbour's
slowed-down periods (`neighbour_control`); the steal time the VM reported and the overruns
near it (`steal_against`, a sampler process reading /proc/stat); how often the callback and
the neighbour were held up past their median, per second of their work (`stall_rates`:
with ``--neighbour-work model`` the neighbour runs the same separator graph with nothing
else to do, so its stalls are the machine's). ``--record DIR`` keeps the raw records.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

BEGIN, END = "<!-- BEGIN Live soak (benchmarks/bench_live_soak.py) -->", "<!-- END Live soak -->"
RATE, PERIOD = 48000, 256

NEIGHBOUR = textwrap.dedent("""
    import sys, time, jack
    import numpy as np
    name, fraction, record, kind = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = jack.Client("fs-neighbour", servername=name, no_start_server=True)
    port = client.outports.register("out")
    period = client.blocksize / client.samplerate

    # Fixed work per period (not fixed time), so its wall time per period is a control: same
    # work, so a period that took far longer than the median one means the machine ran this
    # thread slower, not that it did more. "loop": a Python loop calibrated to `fraction` of a
    # period at the fastest of 50 tries; "model": one run of the separator graph on a stereo
    # frame (argv[5]: the graph, argv[6]: its inputs), what a second live host computes per hop.
    if kind == "model":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(sys.argv[5], sess_options=options, providers=["CPUExecutionProvider"])
        feeds = dict(np.load(sys.argv[6]))
        count = 1

        def work(count):
            session.run(None, feeds)
    else:
        def work(count):
            x = 0
            for _ in range(count):
                x += 1
            return x

        def timed(count):
            start = time.perf_counter()
            work(count)
            return time.perf_counter() - start

        count = 10000
        count = max(1, int(count * fraction * period / min(timed(count) for _ in range(50))))
    for _ in range(20):  # warm up
        work(count)
    walls = np.zeros(1 << 20, dtype=np.float32)   # preallocated: wall time of each period's work (s)
    cpus = np.zeros(1 << 20, dtype=np.float32)    # ... and the thread's CPU time for it
    starts = np.zeros(1 << 20, dtype=np.float64)  # time.perf_counter at its start
    state = [0]

    @client.set_process_callback
    def process(frames):
        t, c = time.perf_counter(), time.thread_time()
        work(count)
        i = state[0] % walls.shape[0]
        walls[i], cpus[i], starts[i] = time.perf_counter() - t, time.thread_time() - c, t
        state[0] += 1
        port.get_array().fill(0)

    client.activate()
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.read()  # until the parent closes stdin (or dies)
    client.deactivate(); client.close()
    n = min(state[0], walls.shape[0])
    np.savez(record, walls=walls[:n], cpus=cpus[:n], starts=starts[:n])
""")


#: A sampler process: every STEAL_INTERVAL_S it reads each CPU's steal time from /proc/stat
#: (time the VM's host ran something else while this guest's CPU had work: the host's
#: contention, as far as the host reports it) until its stdin closes, then saves the samples.
STEAL_INTERVAL_S = 0.02
STEAL_SAMPLER = textwrap.dedent("""
    import os, select, sys, time
    import numpy as np
    record, interval = sys.argv[1], float(sys.argv[2])
    tick = 1.0 / os.sysconf("SC_CLK_TCK")

    def steal():  # /proc/stat "cpuN" lines: user nice system idle iowait irq softirq steal ...
        with open("/proc/stat") as stat:
            return [int(line.split()[8]) * tick for line in stat if line.startswith("cpu") and line[3].isdigit()]

    times, steals = [], []
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    while True:
        times.append(time.perf_counter())
        steals.append(steal())
        if select.select([sys.stdin], [], [], interval)[0] and not sys.stdin.read(1):
            break  # the parent closed stdin (or died)
    np.savez(record, times=np.array(times), steal=np.array(steals, dtype=np.float64))
""")


def steal_against(record: Path, window: list[float], overrun_log: list) -> dict:
    """Steal time the VM reported during the soak, and the overruns that fell near some.

    `record`: the sampler's ``times [n]`` (time.perf_counter s) and ``steal [n, cpus]``
    (cumulative seconds). An overrun "meets steal" when the steal of any CPU grew between the
    last sample before it and the first sample at least a tick (10 ms, when the kernel accounts
    steal) after its end. `overruns_with_steal` is given per cause (`overrun_causes`' order), and
    `steal_intervals_share` (the share of sample intervals in which steal grew) is the chance
    level to read it against.
    """
    out = {"steal_seconds": 0.0, "steal_samples": 0, "steal_intervals_share": 0.0,
           "overruns_with_steal": {"own_work": 0, "blocked": 0, "preempted": 0, "below_guest": 0}}
    try:
        data = np.load(record)
    except OSError:
        return out
    times, steal = data["times"], data["steal"]
    inside = (times >= window[0]) & (times <= window[1])
    times, steal = times[inside], steal[inside]
    if times.size < 2:
        return out
    grew = np.any(np.diff(steal, axis=0) > 0, axis=1)  # [n - 1]: steal grew in interval i
    period = PERIOD / RATE
    for start, load, cpu, voluntary, involuntary, *_ in overrun_log:
        first = max(0, int(np.searchsorted(times, start, side="right")) - 1)
        last = int(np.searchsorted(times, start + load * period + 0.01, side="left"))
        if np.any(grew[first:last]):
            out["overruns_with_steal"][overrun_cause(cpu, voluntary, involuntary)] += 1
    out.update(steal_seconds=float((steal[-1] - steal[0]).sum()), steal_samples=int(times.size),
               steal_intervals_share=float(grew.mean()))
    return out


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class LoopPlayer:
    """A JACK client that loops ``signal [C, n]`` into the host's PortAudio inputs."""

    def __init__(self, server_name: str, signal: np.ndarray) -> None:
        import jack

        self.signal = np.ascontiguousarray(signal, dtype=np.float32)
        self.position = 0
        self.client = jack.Client("fs-soak-player", servername=server_name, no_start_server=True)
        self.outs = [self.client.outports.register(f"out_{c}") for c in range(self.signal.shape[0])]
        self.client.set_process_callback(self._play)
        self.client.activate()
        host_in = sorted((p for p in self.client.get_ports(is_audio=True, is_input=True)
                          if p.name.startswith("PortAudio")), key=lambda p: p.name)
        for out, port in zip(self.outs, host_in):
            self.client.connect(out, port)

    def _play(self, frames: int) -> None:
        n = self.signal.shape[1]
        start = self.position % n
        stop = start + frames
        for c, port in enumerate(self.outs):
            buffer = port.get_array()
            if stop <= n:
                buffer[:] = self.signal[c, start:stop]
            else:
                first = n - start
                buffer[:first] = self.signal[c, start:]
                buffer[first:] = self.signal[c, : frames - first]
        self.position += frames

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def soak(model, minutes: float, switch_seconds: float, neighbour_load: float, seed: int = 0,
         neighbour_work: str = "loop", record: Path | None = None) -> dict:
    import live_jack_helpers as jh
    import sounddevice as sd

    from fewshot_sep.plugin_host.live.host import LiveHost, reinitialize_portaudio
    from fewshot_sep.presets import list_builtins
    from plugin_helpers import tapered_tones

    # Every callback's load goes into a preallocated ring (LiveAudio.load_history: no allocation).
    loads = np.zeros(int(minutes * 60 * RATE / PERIOD * 1.1) + 1024, dtype=np.float32)
    loads.fill(0.0)  # touch every page now (np.zeros maps them lazily: one page fault per 1024 callbacks)

    rng = np.random.default_rng(seed)
    names = [f"builtin:{n}" for n in sorted(list_builtins())]
    server = jh.start_jack_server(Path(tempfile.mkdtemp(prefix="soak_jack_")), RATE, PERIOD)
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_START_SERVER"] = "1"
    neighbour = player = host = sampler = None
    switches = {"preset": 0, "mode": 0, "mix": 0, "bypass": 0}
    switch_times: list[float] = []  # time.perf_counter() of each preset switch (the callback's clock)
    rss = []
    try:
        reinitialize_portaudio()
        neighbour_record = Path(tempfile.mkdtemp(prefix="soak_neighbour_")) / "periods.npz"
        feeds = neighbour_record.parent / "feeds.npz"
        np.savez(feeds, magnitude=np.random.default_rng(seed + 1).random((2, model.input_planes, model.n_fft // 2 + 1, 1),
                                                                         dtype=np.float32),
                 conditioning=np.zeros((2, model.conditioning_dim), np.float32),
                 **{s.name: np.zeros(s.concrete_shape(2), np.float32) for s in model.states})
        neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR, server.name, str(neighbour_load),
                                      str(neighbour_record), neighbour_work, str(model.separator_path), str(feeds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     preexec_fn=jh._die_with_parent)
        assert neighbour.stdout.readline().strip() == "ready", "the neighbour JACK client did not start"
        steal_record = neighbour_record.parent / "steal.npz"
        sampler = subprocess.Popen([sys.executable, "-c", STEAL_SAMPLER, str(steal_record), str(STEAL_INTERVAL_S)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   preexec_fn=jh._die_with_parent)
        assert sampler.stdout.readline().strip() == "ready", "the steal sampler did not start"
        host = LiveHost(names, model=model, input_device="JACK", output_device="JACK", samplerate=RATE,
                             blocksize=PERIOD, channels=2, out=io.StringIO())
        host.audio.load_history = loads
        host.start()
        signal = tapered_tones(10.0, RATE, 2) + (0.05 * rng.standard_normal((2, 10 * RATE))).astype(np.float32)
        player = LoopPlayer(server.name, signal)
        time.sleep(1.0)
        log_start = len(server.log())
        host.reset_counters()
        collections = GarbageCollections()
        gc.callbacks.append(collections.note)
        window = [time.perf_counter(), 0.0]  # the soak in time.perf_counter seconds (the neighbour's clock too)
        started = time.monotonic()
        deadline = started + 60 * minutes
        next_switch, next_rss = started + switch_seconds, started
        step = 0
        while (now := time.monotonic()) < deadline:
            if now >= next_rss:
                rss.append((now - started, rss_bytes()))
                next_rss += 10.0
            if now >= next_switch:
                step += 1
                switch_times.append(time.perf_counter())
                host.handle_key("n")
                switches["preset"] += 1
                if step % 2 == 0:
                    host.handle_key("m")
                    switches["mode"] += 1
                host.set_mix(float(rng.uniform(0.0, 1.0)))
                switches["mix"] += 1
                if step % 10 == 0:
                    host.set_bypass(not host.bypass)
                    switches["bypass"] += 1
                next_switch += switch_seconds
            time.sleep(max(0.0, min(next_switch, next_rss, deadline) - time.monotonic()))
        elapsed = time.monotonic() - started
        rss.append((elapsed, rss_bytes()))
        summary = host.stop()
        gc.callbacks.remove(collections.note)
        window[1] = time.perf_counter()
        overrun_log = host.audio.overrun_log
        server_late, all_late = jh.late_events(server.log()[log_start:])
        # The neighbour (another process, sharing only the CPUs) can be late on its own; every
        # other late client (the host's, the player in the host's process) counts against the host.
        late_by_client = jh.late_clients(server.log()[log_start:])
        neighbour_late = late_by_client.get("fs-neighbour", 0)
        client_late = all_late - neighbour_late
        realtime = server.realtime
    finally:
        if player is not None:
            player.close()
        if host is not None and host.running:
            host.stop()
        for child in (neighbour, sampler):
            if child is None:
                continue
            try:
                child.communicate(timeout=30)  # closes its stdin: it stops and writes its record
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        sd._terminate()
        jh.stop_jack_server(server)
    count = min(summary.callbacks, loads.shape[0])
    loads = loads[:count].astype(np.float64)
    control = neighbour_control(neighbour_record, window, overrun_log, float(np.percentile(loads, 50)))
    causes = overrun_causes(overrun_log, switch_times, summary.overruns)
    causes.update(collections.against(overrun_log))
    causes.update(steal_against(steal_record, window, overrun_log))
    causes.update(stall_rates(loads, neighbour_record, window))
    if record is not None:
        import shutil

        record.mkdir(parents=True, exist_ok=True)
        np.savez(record / "callbacks.npz", loads=loads, window=np.asarray(window),
                 overrun_log=np.asarray(overrun_log, dtype=np.float64).reshape(-1, 7),
                 switch_times=np.asarray(switch_times))
        for name, kept in (("neighbour.npz", neighbour_record), ("steal.npz", steal_record)):
            if kept.exists():
                shutil.copy(kept, record / name)
    after_minute = [b for t, b in rss if t >= 60.0] or [rss[-1][1]]
    return {
        "minutes": minutes, "seconds": elapsed, "callbacks": summary.callbacks,
        "expected_callbacks": int(elapsed * RATE / PERIOD),
        "load_mean": float(loads.mean()), "load_p50": float(np.percentile(loads, 50)),
        "load_p99": float(np.percentile(loads, 99)), "load_p999": float(np.percentile(loads, 99.9)),
        "load_max": float(summary.max_load),
        "overruns": summary.overruns, "waiting_overruns": summary.waiting_overruns,
        "xrun_callbacks": summary.xrun_callbacks, "xruns": summary.xruns,
        "server_late": server_late, "client_late": client_late, "neighbour_late": neighbour_late,
        "late_by_client": late_by_client,
        "errors": summary.errors, "last_error": summary.last_error,
        "rss_first_minute_mb": after_minute[0] / 2**20, "rss_end_mb": rss[-1][1] / 2**20,
        "rss_max_mb": max(b for _, b in rss) / 2**20, "rss_samples": len(rss),
        "switches": switches, "realtime": realtime, "neighbour_load": neighbour_load, "neighbour_work": neighbour_work,
        "switch_seconds": switch_seconds, "presets": len(names),
        "latency_ms": 1000 * (summary.latency_algorithmic_s + summary.latency_device_s),
        **control, **causes,
    }


class GarbageCollections:
    """Python's garbage collections during the soak: when, how long, which generation, which thread.

    A collection holds the GIL from start to end, whatever thread runs it: one that overlaps a
    callback made it late (in the audio thread it counts as the callback's CPU time).
    Preallocated; `note` is registered in ``gc.callbacks``.
    """

    KEPT = 200_000

    def __init__(self) -> None:
        self.log = np.zeros((self.KEPT, 3), dtype=np.float64)  # start, duration (s), generation
        self.log.fill(0.0)
        self.count = 0
        self._started = 0.0

    def note(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self.count < self.KEPT:
            self.log[self.count] = (self._started, time.perf_counter() - self._started, info["generation"])
            self.count += 1

    def against(self, overrun_log: list) -> dict:
        """Collections per generation, their longest, and the overruns a collection overlapped."""
        log = self.log[: self.count]
        period = PERIOD / RATE
        out = {"gc_collections": [int((log[:, 2] == g).sum()) for g in range(3)],
               "gc_longest_ms": [float(1000 * log[log[:, 2] == g, 1].max()) if (log[:, 2] == g).any() else 0.0
                                 for g in range(3)],
               "overruns_with_gc": [0, 0, 0]}
        for start, load, *_ in overrun_log:
            hit = (log[:, 0] < start + load * period) & (log[:, 0] + log[:, 1] > start)
            if hit.any():
                out["overruns_with_gc"][int(log[hit, 2].max())] += 1
        return out


#: A preset switch's fade lasts 50 ms (engine default); overruns up to this long after a switch
#: count as "in a fade" (the switch is queued from the main thread, applied at the next block).
FADE_WINDOW_S = 0.1


def overrun_cause(cpu_load: float, voluntary: int, involuntary: int) -> str:
    """The cause of one overrun from its CPU load (CPU time / period) and context switches
    (see `overrun_causes`)."""
    if cpu_load >= 1.0:
        return "own_work"
    if voluntary > 0:
        return "blocked"
    return "preempted" if involuntary > 0 else "below_guest"


def overrun_causes(overrun_log: list, switch_times: list[float], overruns: int) -> dict:
    """Why each kept overrun (``LiveAudio.overrun_log``) was late, from its CPU time and context switches.

    - own work: the callback's CPU time alone was over the period (it would have been late
      even with the CPU to itself; a VM host running the virtual CPU slower also shows here,
      see `neighbour_control`);
    - blocked: under the period of CPU time and a voluntary context switch: the thread waited
      on something in the host's process (a lock, the GIL): the host's fault;
    - preempted: under the period of CPU time, involuntary context switches only: the kernel
      gave its CPU to another thread;
    - below the guest: under the period of CPU time and no context switch at all: the thread
      never left its CPU as far as the guest knows, yet its CPU clock did not advance (time the
      VM's host took);
    and how many fell within FADE_WINDOW_S after a preset switch. The earlier rule (CPU time at
    least half the period counts as computing) is reported beside it.
    """
    switches = np.asarray(switch_times, dtype=np.float64)
    counts = {"own_work": 0, "blocked": 0, "preempted": 0, "below_guest": 0}
    in_fade = {key: 0 for key in counts}
    half_period_rule = 0
    own_work = []  # (CPU load, minor page faults, kernel CPU load) of each own-work overrun
    for start, _load, cpu, voluntary, involuntary, *rest in overrun_log:
        cause = overrun_cause(cpu, voluntary, involuntary)
        if cause == "own_work" and rest:
            own_work.append((round(cpu, 2), int(rest[0]), round(rest[1], 2)))
        counts[cause] += 1
        half_period_rule += cpu >= 0.5
        if switches.size and np.any((start >= switches) & (start <= switches + FADE_WINDOW_S)):
            in_fade[cause] += 1
    return {"overrun_causes": counts, "overrun_causes_in_fade": in_fade,
            "overruns_classified": len(overrun_log), "overruns_unclassified": overruns - len(overrun_log),
            "overruns_cpu_half_period": half_period_rule, "own_work_overruns": own_work}


def neighbour_periods(record: Path, window: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The neighbour's periods inside the soak's window: ``(starts, walls, cpus)`` ``[n]`` float64
    seconds (time.perf_counter, wall time, CPU time), or None without a record or a period."""
    try:
        data = np.load(record)
    except OSError:
        return None
    starts, walls, cpus = data["starts"], data["walls"].astype(np.float64), data["cpus"].astype(np.float64)
    inside = (starts >= window[0]) & (starts <= window[1])
    return (starts[inside], walls[inside], cpus[inside]) if inside.any() else None


def neighbour_control(record: Path, window: list[float], overrun_log: list, load_p50: float) -> dict:
    """The neighbour's fixed work per period as a control for the machine, over the soak's window.

    Its work is the same every period, so a period whose work took over 2x (4x) its median
    while its thread was on the CPU (CPU time > 80 % of the wall time) is the machine running
    it slower: the same thing that makes a callback overrun "while computing" with no more work
    to do. Also: the computing overruns' CPU load relative to the callbacks' median load, and how
    many of them overlapped (within a period) a slowed-down period of the neighbour.
    """
    out = {"neighbour_periods": 0, "neighbour_slow2_on_cpu": 0, "neighbour_slow4_on_cpu": 0,
           "neighbour_over_period_on_cpu": 0,
           "computing_overruns_kept": 0, "computing_overrun_cpu_x_p50": [], "computing_overruns_with_slow_neighbour": 0}
    periods = neighbour_periods(record, window)
    if periods is None:
        return out
    starts, walls, cpus = periods
    median = float(np.median(walls))
    on_cpu = cpus > 0.8 * walls
    slow = (walls > 2 * median) & on_cpu
    period = PERIOD / RATE
    out.update(neighbour_periods=int(walls.size), neighbour_median_ms=1000 * median,
               # its own "own-work overruns": CPU time alone over the period (see overrun_causes)
               neighbour_over_period_on_cpu=int((cpus >= period).sum()),
               neighbour_slow2_on_cpu=int(slow.sum()), neighbour_slow4_on_cpu=int(((walls > 4 * median) & on_cpu).sum()))
    computing = [(t, load, cpu) for t, load, cpu, *_ in overrun_log if cpu >= 1.0]  # own work (overrun_causes)
    spans = np.stack([starts[slow] - period, starts[slow] + walls[slow] + period], axis=1)
    coincide = sum(bool(np.any((spans[:, 0] < t + load * period) & (spans[:, 1] > t))) for t, load, _ in computing)
    out.update(computing_overruns_kept=len(computing),
               computing_overrun_cpu_x_p50=[round(cpu / max(load_p50, 1e-9), 1) for _, _, cpu in computing],
               computing_overruns_with_slow_neighbour=int(coincide))
    return out


#: Stall lengths (in block periods) at which `stall_rates` compares the callback with the neighbour.
STALL_PERIODS = (0.25, 0.5, 1.0, 2.0)


def stall_rates(loads: np.ndarray, record: Path, window: list[float]) -> dict:
    """How often the callback and the neighbour were held up, per second of their work.

    A call's stall is its wall time minus the median call's (of the same code). For each length
    of `STALL_PERIODS`: the calls stalled at least that long, per second spent in the calls
    (the longer a piece of work, the more of the machine's hiccups land in it). ``loads [n]``:
    every callback's wall time / period; the neighbour's periods come from its record, inside
    the soak's window. With ``--neighbour-work model`` the neighbour runs the separator graph
    (the bulk of a callback's work) in a process that does nothing else, so its stall rate is
    the machine's: a callback stall rate no higher is the machine's too. An overrun is a stall
    of about ``1 - load_p50`` periods. Rates in stalls per second of work; the neighbour's are
    None without its record.
    """
    period = PERIOD / RATE

    def rates(walls: np.ndarray) -> tuple[list[int], list[float]]:
        stalls = walls - np.median(walls)
        busy = max(float(walls.sum()), 1e-12)
        counts = [int(np.sum(stalls >= x * period)) for x in STALL_PERIODS]
        return counts, [c / busy for c in counts]

    loads = np.asarray(loads, dtype=np.float64)
    counts, per_second = rates(loads * period) if loads.size else ([0] * len(STALL_PERIODS), [0.0] * len(STALL_PERIODS))
    out = {"stall_periods": list(STALL_PERIODS), "callback_stalls": counts, "callback_stall_rate": per_second,
           "neighbour_stalls": None, "neighbour_stall_rate": None}
    periods = neighbour_periods(record, window)
    if periods is not None:
        out["neighbour_stalls"], out["neighbour_stall_rate"] = rates(periods[1])
    return out


def markdown(result: dict, model, origin: str, command: str) -> str:
    r = result
    causes, fade = r["overrun_causes"], r["overrun_causes_in_fade"]
    # The callback's fault: its own CPU time over the period, or blocked inside the host's
    # process; overruns past the kept log are counted against it too (not classified).
    caused = causes["own_work"] + causes["blocked"] + r["overruns_unclassified"]
    matched = r["xrun_callbacks"] <= r["server_late"]
    free = r["client_late"] == 0 and caused == 0 and matched
    order = ("own_work", "blocked", "preempted", "below_guest")
    neighbour_rate = r["neighbour_stall_rate"] or [float("nan")] * len(r["stall_periods"])
    neighbour_stalls = r["neighbour_stalls"] or ["-"] * len(r["stall_periods"])
    # The callback stalled no more often per second of work than the same graph in an otherwise
    # idle process: the machine's hiccups, not the callback's work (beside the verdict, not in it).
    machine_stalls = r["neighbour_stall_rate"] is not None and all(
        c <= n for c, n in zip(r["callback_stall_rate"], neighbour_rate))
    stall_lengths = " / ".join(f"{x:g}" for x in r["stall_periods"])
    return "\n".join([
        "## Live soak",
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end); "
        f"model {model.name} `{model.model_id}` ({origin}); jackd {'realtime' if r['realtime'] else 'NON-realtime'}, "
        f"dummy driver, {RATE} Hz, {PERIOD}-frame periods, synchronous (`-S`).",
        "",
        f"The `live` host (stereo) ran {r['seconds'] / 60:.1f} minutes with the {r['presets']} built-in presets; "
        f"every {r['switch_seconds']:g} s the next preset (crossfaded), a new mix, every second time the other "
        f"mode, every tenth time bypass on/off ({r['switches']['preset']} preset switches, {r['switches']['mode']} "
        f"mode changes, {r['switches']['mix']} mix changes, {r['switches']['bypass']} bypass toggles). A player "
        "client looped tones + noise into it; a second JACK client in another process did fixed work every period ("
        + (f"a Python loop worth {100 * r['neighbour_load']:.0f} % of a period, calibrated"
           if r["neighbour_work"] == "loop" else "one run of the separator graph on a stereo frame, as a second host")
        + f"; its median took {100 * r.get('neighbour_median_ms', 0.0) / (1000 * PERIOD / RATE):.0f} % of the period). "
        "Load = the callback's wall time / block period.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| callbacks (expected from wall time) | {r['callbacks']:,} ({r['expected_callbacks']:,}) |",
        f"| callback load mean / p50 / p99 / p99.9 / max (%) | {100 * r['load_mean']:.1f} / "
        f"{100 * r['load_p50']:.1f} / {100 * r['load_p99']:.1f} / {100 * r['load_p999']:.1f} / "
        f"{100 * r['load_max']:.1f} |",
        f"| callbacks over the period (classified below) | {r['overruns']} ({r['overruns_classified']}) |",
        "| why: own CPU time over the period / blocked in the host's process / preempted / off the CPU "
        f"below the guest | {' / '.join(str(causes[k]) for k in order)} |",
        f"| the same, within {1000 * FADE_WINDOW_S:.0f} ms after a preset switch (its fade) | "
        f"{' / '.join(str(fade[k]) for k in order)} |",
        f"| over the period with CPU time at least half of it (the earlier rule's \"computing\") | "
        f"{r['overruns_cpu_half_period']} |",
        f"| callbacks with an xrun (PortAudio flags) | {r['xrun_callbacks']} |",
        f"| jackd: late driver cycles / late clients (host's process) / late neighbour | {r['server_late']} / "
        f"{r['client_late']} / {r['neighbour_late']} |",
        f"| own-work overruns: CPU time as a multiple of the median callback's wall time | "
        f"{', '.join(f'{x:g}' for x in sorted(r['computing_overrun_cpu_x_p50'])[:12]) or '-'}"
        f"{' ...' if len(r['computing_overrun_cpu_x_p50']) > 12 else ''} |",
        f"| control: the neighbour's fixed work, periods over 2x / 4x its median while on the CPU | "
        f"{r['neighbour_slow2_on_cpu']} / {r['neighbour_slow4_on_cpu']} of {r['neighbour_periods']:,} |",
        f"| control: the neighbour's periods whose CPU time alone exceeded the period (its \"own-work overruns\"), "
        f"against the callback's | {r['neighbour_over_period_on_cpu']} of {r['neighbour_periods']:,} "
        f"({100 * r['neighbour_over_period_on_cpu'] / max(1, r['neighbour_periods']):.3f} %); "
        f"{r['overrun_causes']['own_work']} of {r['callbacks']:,} "
        f"({100 * r['overrun_causes']['own_work'] / max(1, r['callbacks']):.3f} %) |",
        f"| own-work overruns: with a minor page fault / with kernel time over 10 % of the period | "
        f"{sum(1 for _, faults, _ in r['own_work_overruns'] if faults)} / "
        f"{sum(1 for _, _, kernel in r['own_work_overruns'] if kernel > 0.1)} of {len(r['own_work_overruns'])} |",
        f"| Python garbage collections during the soak, generation 0 / 1 / 2 (longest, ms); overruns overlapping one | "
        f"{' / '.join(f'{n} ({ms:.1f})' for n, ms in zip(r['gc_collections'], r['gc_longest_ms']))}; "
        f"{sum(r['overruns_with_gc'])} |",
        f"| steal time the VM reported over the soak (s, /proc/stat, sampled every "
        f"{1000 * STEAL_INTERVAL_S:.0f} ms); sample intervals with steal (%) | {r['steal_seconds']:.2f}; "
        f"{100 * r['steal_intervals_share']:.2f} |",
        f"| overruns near reported steal, by cause (own work / blocked / preempted / below the guest) | "
        f"{' / '.join(str(r['overruns_with_steal'][k]) for k in order)} |",
        f"| callbacks stalled (wall time over the median callback's) by at least {stall_lengths} periods: count "
        "(per second of callback work) | " + " / ".join(
            f"{c} ({x:.3f})" for c, x in zip(r["callback_stalls"], r["callback_stall_rate"])) + " |",
        "| the same for the neighbour's periods (per second of its work) | " + " / ".join(
            f"{c} ({x:.3f})" for c, x in zip(neighbour_stalls, neighbour_rate)) + " |",
        f"| own-work overruns within a period of a slowed-down neighbour period | "
        f"{r['computing_overruns_with_slow_neighbour']} of {r['computing_overruns_kept']} |",
        f"| errors in the callback | {r['errors']} |",
        f"| RSS at 1 min / end / max (MiB) | {r['rss_first_minute_mb']:.1f} / {r['rss_end_mb']:.1f} / "
        f"{r['rss_max_mb']:.1f} ({r['rss_samples']} samples, every 10 s) |",
        f"| latency (algorithmic + device, ms) | {r['latency_ms']:.1f} |",
        "",
        f"Verdict (tests/live_jack_helpers.xruns_explained, no overrun allowance): "
        f"{'every xrun is the driver' + chr(39) + 's own late cycle' if matched else 'some xruns are not matched by late driver cycles'}"
        f", {r['client_late']} late client(s) in the host's process, {caused} overrun(s) the callback caused "
        f"(own CPU time over the period, or blocked in the host's process{', unclassified ones included' if r['overruns_unclassified'] else ''}; "
        f"{100 * caused / max(1, r['callbacks']):.3f} % of callbacks) -> "
        f"{'no xrun caused by the callback' if free else 'NOT shown free of callback-caused xruns'}.",
        "",
        ("Against the machine: per second of work, the callback stalled "
         + ("no more often than the neighbour at any" if machine_stalls else "more often than the neighbour at some")
         + " stall length (the neighbour: "
         + ("the same separator graph in a process with nothing else to do" if r["neighbour_work"] == "model"
            else "a calibrated Python loop")
         + "), so its overruns are " + ("what this machine does to any such work" if machine_stalls
                                         else "not explained by the machine alone")
         + (". This is a reading, not part of the verdict above." if r["neighbour_stall_rate"] is not None
            else ". (No neighbour record: no comparison.)")),
        "",
        "Why a callback was late comes from its own thread: its CPU time (`time.thread_time`) and its "
        "context switches during the callback (`getrusage(RUSAGE_THREAD)`, kept for each overrun by "
        "`LiveAudio`). CPU time over the period is the callback's own work; under it, the thread was off "
        "its CPU for the rest: a voluntary switch means it blocked in the host's process (a lock, the "
        "GIL: the host's fault too), involuntary switches alone mean the kernel ran another thread, and "
        "no switch at all means the time went below the guest (the VM's host). The VM's host reports what it "
        "took as steal time (/proc/stat); a host that takes time without reporting it leaves that time in "
        "the thread's CPU time, where it looks like the callback's own work. A preset switch glides "
        "its conditioning frame by frame at a steady block's cost, so a fade is no heavier than any "
        "other block.",
        "",
        "The control: the neighbour does the same work every period (calibrated to its share of a period), "
        "so a period where that work took several times its median while its thread was on the CPU is "
        "the machine running the thread slower (on this VM: the host's contention below the guest). "
        "An own-work overrun whose CPU time is several times the median callback's did no more work than "
        "the others (at 48 kHz / 256 every callback computes 0 or 1 hop).",
        "",
        "An xrun is caused by the callback only if the callback caused an overrun (as above) or "
        "jackd reported a client late; xruns matched by the dummy driver's own late cycles (its timer "
        "thread woken late on this shared VM) are not (tests/live_jack_helpers.xruns_explained).",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--switch-seconds", type=float, default=3.0)
    parser.add_argument("--neighbour-load", type=float, default=0.25,
                        help="fraction of each period the second JACK client burns")
    parser.add_argument("--neighbour-work", choices=("loop", "model"), default="loop",
                        help="the neighbour's fixed work per period: a Python loop worth --neighbour-load of a "
                             "period, or one run of the separator graph on a stereo frame (a second live host)")
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    parser.add_argument("--record", default=None, metavar="DIR",
                        help="keep the raw records in DIR: every callback's load, the overrun log, the switch "
                             "times, the neighbour's periods and the steal samples (npz), and the result (JSON)")
    args = parser.parse_args()
    import json

    from bench_plugin_host import resolve_model
    from doc_sections import write_doc_section

    import fewshot_sep.utils.atomic  # noqa: F401  (imported now: the code may change during a long run)

    model, origin = resolve_model(args.model)
    result = soak(model, args.minutes, args.switch_seconds, args.neighbour_load, neighbour_work=args.neighbour_work,
                  record=Path(args.record) if args.record else None)
    print(json.dumps(result, indent=1))
    if args.record:
        (Path(args.record) / "result.json").write_text(json.dumps(result, indent=1))
    command = "python benchmarks/bench_live_soak.py " + " ".join(sys.argv[1:])
    text = markdown(result, model, origin, command.strip())
    print(text)
    if args.write:
        write_doc_section(REPO / "docs" / "benchmarks.md", BEGIN, END, text)


if __name__ == "__main__":
    main()
