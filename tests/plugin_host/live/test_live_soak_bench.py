"""benchmarks/bench_live_soak.py's control: the neighbour's slowed periods against the host's overruns."""

from __future__ import annotations

import importlib.util

import numpy as np

from repo_paths import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("bench_live_soak", REPO / "benchmarks" / "bench_live_soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_neighbour_control_counts_slowed_periods_and_matches_computing_overruns(tmp_path):
    bench = _bench()
    period = bench.PERIOD / bench.RATE
    n = 1000
    starts = 100.0 + period * np.arange(n)
    walls = np.full(n, 0.25 * period)
    cpus = walls.copy()
    walls[[100, 500]] = 0.75 * period  # 3x the median, on the CPU
    cpus[[100, 500]] = 0.7 * period
    walls[700] = 1.25 * period  # 5x, on the CPU
    cpus[700] = 1.2 * period
    walls[900] = 1.25 * period  # 5x, but descheduled: not the machine running it slower
    cpus[900] = 0.1 * period
    record = tmp_path / "periods.npz"
    np.savez(record, walls=walls.astype(np.float32), cpus=cpus.astype(np.float32), starts=starts)
    overruns = [  # (start, load, CPU load, voluntary switches, involuntary switches)
        (starts[500] + 0.5 * period, 1.2, 1.1, 0, 0),  # own work, during the neighbour's slow period 500
        (starts[300], 1.1, 1.05, 0, 0),  # own work, the neighbour ran normally then
        (starts[700], 1.5, 0.2, 0, 0),  # off the CPU: not an own-work overrun
        (starts[800], 1.5, 0.7, 0, 1),  # over half the period of CPU, but off the CPU for the rest
    ]
    window = [starts[0], starts[-1] + period]
    result = bench.neighbour_control(record, window, overruns, load_p50=0.35)
    assert result["neighbour_periods"] == n
    assert result["neighbour_slow2_on_cpu"] == 3 and result["neighbour_slow4_on_cpu"] == 1
    assert result["neighbour_over_period_on_cpu"] == 1  # period 700: 1.2 periods of CPU time
    assert result["computing_overruns_kept"] == 2
    assert result["computing_overruns_with_slow_neighbour"] == 1
    assert result["computing_overrun_cpu_x_p50"] == [3.1, 3.0]
    # Periods outside the soak's window (start-up, shut-down) do not count.
    assert bench.neighbour_control(record, [starts[600], starts[-1]], [], 0.35)["neighbour_slow2_on_cpu"] == 1
    # No record (the neighbour died): zeros, not an error.
    assert bench.neighbour_control(tmp_path / "missing.npz", window, overruns, 0.35)["neighbour_periods"] == 0


def test_overrun_causes_sort_overruns_by_cpu_time_and_context_switches():
    bench = _bench()
    switches = [10.0, 20.0]
    log = [  # (start, load, CPU load, voluntary switches, involuntary switches)
        (10.02, 1.3, 1.1, 0, 2),  # its own CPU time over the period (switches or not), in a fade
        (15.00, 1.2, 0.6, 1, 0),  # blocked in the process (the GIL, a lock)
        (20.05, 1.4, 0.3, 0, 3),  # preempted, in a fade
        (25.00, 1.1, 0.2, 0, 0),  # no switch: below the guest
        (20.50, 1.1, 0.55, 0, 0),  # no switch, half the period of CPU: the earlier rule's "computing"
    ]
    result = bench.overrun_causes(log, switches, overruns=7)
    assert result["overrun_causes"] == {"own_work": 1, "blocked": 1, "preempted": 1, "below_guest": 2}
    assert result["overrun_causes_in_fade"] == {"own_work": 1, "blocked": 0, "preempted": 1, "below_guest": 0}
    assert result["overruns_classified"] == 5 and result["overruns_unclassified"] == 2
    assert result["overruns_cpu_half_period"] == 3
    assert bench.overrun_causes([], [], 0)["overrun_causes"] == dict.fromkeys(("own_work", "blocked", "preempted",
                                                                               "below_guest"), 0)


def test_garbage_collections_are_matched_against_overruns():
    bench = _bench()
    collections = bench.GarbageCollections()
    period = bench.PERIOD / bench.RATE
    for start, duration, generation in ((10.0, 0.004, 2), (20.0, 0.0001, 0), (30.0, 0.0001, 0)):
        collections.log[collections.count] = (start, duration, generation)
        collections.count += 1
    log = [(10.001, 1.5, 1.2, 0, 0), (19.0, 1.2, 0.3, 0, 0), (29.9999, 1.1, 1.05, 0, 0)]
    result = collections.against(log)
    assert result["gc_collections"] == [2, 0, 1]
    assert result["gc_longest_ms"][2] == 4.0 and result["gc_longest_ms"][1] == 0.0
    assert result["overruns_with_gc"] == [1, 0, 1]  # 19.0 + 1.2 periods ends before 20.0
    # gc.callbacks' own protocol: a start, then a stop with the generation
    live = bench.GarbageCollections()
    live.note("start", {"generation": 1})
    live.note("stop", {"generation": 1})
    assert live.count == 1 and live.log[0, 2] == 1 and 0.0 <= live.log[0, 1] < period


def test_steal_sampler_records_and_overruns_are_matched_against_steal(tmp_path):
    import subprocess
    import sys

    bench = _bench()
    record = tmp_path / "steal.npz"
    sampler = subprocess.Popen([sys.executable, "-c", bench.STEAL_SAMPLER, str(record), "0.01"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert sampler.stdout.readline().strip() == "ready"
    sampler.communicate(timeout=30)  # closing stdin stops it
    data = np.load(record)
    assert data["times"].ndim == 1 and data["times"].size >= 1
    assert data["steal"].shape == (data["times"].size, data["steal"].shape[1]) and data["steal"].shape[1] >= 1

    # Synthetic samples: two CPUs, steal grows on CPU 1 between 10.04 and 10.06 only.
    times = 10.0 + 0.02 * np.arange(50)
    steal = np.zeros((50, 2))
    steal[3:, 1] = 0.01
    np.savez(tmp_path / "synthetic.npz", times=times, steal=steal)
    period = bench.PERIOD / bench.RATE
    log = [  # (start, load, CPU load, voluntary switches, involuntary switches)
        (10.045, 1.5, 1.2, 0, 0),   # own work, during the steal
        (10.030, 1.2, 0.3, 0, 0),   # below the guest, ends before 10.04; steal accounted a tick later counts
        (10.50, 1.2, 0.3, 0, 0),    # below the guest, far from it
        (10.049, 1.2, 0.6, 1, 0),   # blocked, near it
    ]
    result = bench.steal_against(tmp_path / "synthetic.npz", [times[0], times[-1]], log)
    assert result["overruns_with_steal"] == {"own_work": 1, "blocked": 1, "preempted": 0, "below_guest": 1}
    assert abs(result["steal_seconds"] - 0.01) < 1e-12 and result["steal_samples"] == 50
    assert abs(result["steal_intervals_share"] - 1 / 49) < 1e-12
    assert 10.03 + 1.2 * period + 0.01 > 10.04  # the second overrun's reach (keeps the case meaningful)
    # Outside the window, or no record: zeros, not an error.
    assert bench.steal_against(tmp_path / "synthetic.npz", [11.0, 12.0], log)["steal_samples"] == 0
    assert bench.steal_against(tmp_path / "missing.npz", [0, 1], log)["overruns_with_steal"]["own_work"] == 0


def _result(bench, overrun_log, folder, xrun_callbacks=3, server_late=3, client_late=0, stalls=None):
    """A soak result as `soak` assembles it, from synthetic records."""
    causes = bench.overrun_causes(overrun_log, [], len(overrun_log))
    causes.update(bench.GarbageCollections().against(overrun_log))
    causes.update(bench.steal_against(folder / "missing.npz", [0.0, 1.0], overrun_log))
    control = bench.neighbour_control(folder / "missing.npz", [0.0, 1.0], overrun_log, 0.35)
    control.update(stalls or bench.stall_rates(np.full(100, 0.3), folder / "missing.npz", [0.0, 1.0]))
    return {
        "minutes": 1.0, "seconds": 60.0, "callbacks": 11_000, "expected_callbacks": 11_250,
        "load_mean": 0.3, "load_p50": 0.35, "load_p99": 0.5, "load_p999": 0.9, "load_max": 1.5,
        "overruns": len(overrun_log), "waiting_overruns": 0, "xrun_callbacks": xrun_callbacks, "xruns": 2 * xrun_callbacks,
        "server_late": server_late, "client_late": client_late, "neighbour_late": 0, "late_by_client": {},
        "errors": 0, "last_error": None, "rss_first_minute_mb": 200.0, "rss_end_mb": 200.1, "rss_max_mb": 200.2,
        "rss_samples": 7, "switches": {"preset": 20, "mode": 10, "mix": 20, "bypass": 2}, "realtime": True,
        "neighbour_load": 0.25, "neighbour_work": "loop", "switch_seconds": 3.0, "presets": 14, "latency_ms": 30.1,
        **control, **causes,
    }


def test_soak_report_verdict_counts_only_the_callbacks_own_overruns(tmp_path):
    from types import SimpleNamespace

    bench = _bench()
    model = SimpleNamespace(name="m", model_id="0123")
    below_guest = [(5.0, 1.3, 0.2, 0, 0, 0, 0.0)]  # the VM's time: not the callback's
    own_work = [(5.0, 1.3, 1.1, 0, 0, 0, 0.0)]
    free = bench.markdown(_result(bench, below_guest, tmp_path), model, "test", "cmd")
    assert "-> no xrun caused by the callback" in free
    assert "| why: own CPU time over the period" in free and "| 0 / 0 / 0 / 1 |" in free
    assert "steal time the VM reported" in free and "own-work overruns\"), against the callback's" in free
    for text in (bench.markdown(_result(bench, own_work, tmp_path), model, "test", "cmd"),
                 bench.markdown(_result(bench, [], tmp_path, client_late=1), model, "test", "cmd"),
                 bench.markdown(_result(bench, [], tmp_path, xrun_callbacks=4, server_late=3), model, "test", "cmd")):
        assert "NOT shown free of callback-caused xruns" in text
    assert "(No neighbour record: no comparison.)" in free
    # The reading against the machine: the callback's tail against the neighbour's, multiple by multiple.
    lighter = {"stall_periods": [0.5, 1.0], "callback_stalls": [4, 1], "callback_stall_rate": [0.04, 0.01],
               "neighbour_stalls": [9, 1], "neighbour_stall_rate": [0.09, 0.01]}
    heavier = {**lighter, "callback_stall_rate": [0.04, 0.02]}
    text = bench.markdown(_result(bench, own_work, tmp_path, stalls=lighter), model, "test", "cmd")
    assert "stalled no more often than the neighbour at any stall length" in text
    assert "| 9 (0.090) / 1 (0.010) |" in text
    assert "NOT shown free of callback-caused xruns" in text  # a reading, not the verdict
    assert "more often than the neighbour at some stall length" in bench.markdown(_result(bench, own_work, tmp_path, stalls=heavier),
                                                               model, "test", "cmd")


def test_stall_rates_compare_stalls_per_second_of_work(tmp_path):
    bench = _bench()
    period = bench.PERIOD / bench.RATE
    loads = np.full(1000, 0.2)
    loads[:10] = 0.5    # stalled 0.3 periods: over 0.25 only
    loads[10:12] = 2.5  # stalled 2.3 periods: over every length
    starts = np.arange(1000, dtype=np.float64)
    walls = np.full(1000, 0.1 * period)
    walls[:30] = 0.7 * period  # stalled 0.6 periods: over 0.25 and 0.5
    np.savez(tmp_path / "n.npz", starts=starts, walls=walls.astype(np.float32), cpus=walls.astype(np.float32))
    result = bench.stall_rates(loads, tmp_path / "n.npz", [0.0, 999.0])
    assert result["stall_periods"] == [0.25, 0.5, 1.0, 2.0]
    assert result["callback_stalls"] == [12, 2, 2, 2] and result["neighbour_stalls"] == [30, 30, 0, 0]
    callback_busy, neighbour_busy = float(loads.sum()) * period, float(walls.astype(np.float32).sum())
    assert np.allclose(result["callback_stall_rate"], np.array([12, 2, 2, 2]) / callback_busy)
    assert np.allclose(result["neighbour_stall_rate"], np.array([30, 30, 0, 0]) / neighbour_busy, rtol=1e-5)
    missing = bench.stall_rates(loads, tmp_path / "missing.npz", [0.0, 1.0])
    assert missing["neighbour_stalls"] is None and missing["neighbour_stall_rate"] is None
