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
    overruns = [
        (starts[500] + 0.5 * period, 1.2, 1.1),  # computing, during the neighbour's slow period 500
        (starts[300], 1.1, 1.05),  # computing, the neighbour ran normally then
        (starts[700], 1.5, 0.2),  # waiting: not a computing overrun
    ]
    window = [starts[0], starts[-1] + period]
    result = bench.neighbour_control(record, window, overruns, load_p50=0.35)
    assert result["neighbour_periods"] == n
    assert result["neighbour_slow2_on_cpu"] == 3 and result["neighbour_slow4_on_cpu"] == 1
    assert result["computing_overruns_kept"] == 2
    assert result["computing_overruns_with_slow_neighbour"] == 1
    assert result["computing_overrun_cpu_x_p50"] == [3.1, 3.0]
    # Periods outside the soak's window (start-up, shut-down) do not count.
    assert bench.neighbour_control(record, [starts[600], starts[-1]], [], 0.35)["neighbour_slow2_on_cpu"] == 1
    # No record (the neighbour died): zeros, not an error.
    assert bench.neighbour_control(tmp_path / "missing.npz", window, overruns, 0.35)["neighbour_periods"] == 0
