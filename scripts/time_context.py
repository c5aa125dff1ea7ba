"""Does the separator's recurrent state help or hurt past the 1 s crops it was trained on?

The release models train on 1 s crops from a zero state, but the evaluation
separates 4 s mixtures in one causal pass, so from the second second on the
state holds more past than training ever showed it. On the episodes of
``fewshot-sep evaluate`` (same sampler and seed; k = 5, 2-4 interferers, no
negatives) a torch checkpoint separates each mixture in three ways and every
whole second of it is scored on its own (SI-SDR improvement of that second, in
dB; seconds with a near-silent target are left out):

- ``continuous``: one pass over the whole mixture (what the evaluation and the
  product do);
- ``fresh``: for second s, a new pass from a zero state that starts at second s
  (so every second is separated as if it were the start of a training crop);
- ``primed``: the whole mixture once, then again from its start with the state
  the first pass ended in (a second pass that knows the whole mixture: only an
  offline separation could do this; the first pass ends on the n_fft - 1 samples
  of zero padding that every pass gets for the delay compensation).

If the state drifted out of its training range, ``fresh`` would beat
``continuous`` from the second second on; if the state's context paid,
``continuous`` would beat ``fresh`` there. ``primed`` tells whether the first
second loses for lack of context.

    python scripts/time_context.py models/release --episodes 128

Prints a Markdown table: per second, the medians and the paired differences
against ``continuous`` (median with a bootstrap 95 % interval, and mean: where
the medians of two ways differ more than their paired median, a minority of
episodes differs a lot).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SECOND = 44100  # samples


def episode_seconds(worker, split: str, index: int, k: int) -> dict[str, list[float]] | None:
    """Per whole second of the episode's mixture: SI-SDRi (dB, NaN where the target is
    near-silent) of the three ways; None for an episode the harness skips (silent target)."""
    from fewshot_sep.eval.harness import SILENT_TARGET_DB
    from fewshot_sep.eval.metrics import energy_db, si_sdr
    from fewshot_sep.realtime.conditioning import build_conditioning

    ep = worker.samplers[split].episode(index)
    target, mixture = ep.target.astype(np.float32), ep.mixture.astype(np.float32)
    if energy_db(target) < SILENT_TARGET_DB:
        return None
    system = worker.systems["fewshot-torch"]
    conditioning = build_conditioning(system.embed(list(ep.support))[:k].mean(axis=0), None)
    continuous = system.separate(mixture, conditioning)
    primed = system.separate(mixture, conditioning, system.final_states(mixture, conditioning))
    rows: dict[str, list[float]] = {"continuous": [], "fresh": [], "primed": []}
    for start in range(0, mixture.size - SECOND + 1, SECOND):
        part = slice(start, start + SECOND)
        if energy_db(target[part]) < SILENT_TARGET_DB:
            for values in rows.values():
                values.append(np.nan)
            continue
        base = si_sdr(target[part], mixture[part])
        fresh = system.separate(mixture[start:], conditioning)[:SECOND]
        rows["continuous"].append(si_sdr(target[part], continuous[part]) - base)
        rows["fresh"].append(si_sdr(target[part], fresh) - base)
        rows["primed"].append(si_sdr(target[part], primed[part]) - base)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="torch run folder or .pt with config.json beside it")
    parser.add_argument("--data", default="data/render", help="rendered dataset (default data/render)")
    parser.add_argument("--split", default="val", help="split (default val)")
    parser.add_argument("--episodes", type=int, default=128, help="episodes sampled (default 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=5, help="support clips (default 5)")
    parser.add_argument("--seconds", type=float, default=4.0, help="mixture length (default 4, the evaluation's)")
    parser.add_argument("--support-seconds", type=float, default=3.0, help="support clip length")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)

    import torch

    from fewshot_sep.eval.harness import EvalSettings, _Worker
    from fewshot_sep.eval.metrics import bootstrap_median_ci

    settings = EvalSettings(data=args.data, splits=[args.split], episodes=args.episodes, seed=args.seed,
                            ks=[args.k], systems=["fewshot-torch"], checkpoint=args.checkpoint,
                            seconds=args.seconds, support_seconds=args.support_seconds, interferers=[2, 4])
    worker = _Worker(settings, None)
    torch.set_num_threads(args.threads)  # after the worker: loading the torch system sets 1 thread
    started = time.monotonic()
    episodes = [r for r in (episode_seconds(worker, args.split, i, args.k) for i in range(args.episodes)) if r]
    if not episodes:
        print(f"no scorable episodes in {args.episodes} of split {args.split!r} (all targets near-silent)")
        return 1
    seconds = min(len(r["continuous"]) for r in episodes)
    table = {way: np.array([r[way][:seconds] for r in episodes]) for way in ("continuous", "fresh", "primed")}
    print(f"`python scripts/time_context.py {' '.join(sys.argv[1:] if argv is None else argv)}`, "
          f"{len(episodes)} episodes\n")
    print("| second | scored | continuous, median (dB) | fresh start, median (dB) | primed, median (dB) "
          "| fresh − continuous: paired median [95 % CI] / mean | primed − continuous: paired median [95 % CI] / mean |")
    print("|---:|---:|---:|---:|---:|---|---|")
    for s in range(seconds):
        ok = ~np.isnan(table["continuous"][:, s])
        c, f, p = (table[way][ok, s] for way in ("continuous", "fresh", "primed"))
        cells = []
        for other in (f, p):
            median, low, high = bootstrap_median_ci(other - c)
            cells.append(f"{median:+.2f} [{low:+.2f}, {high:+.2f}] / {np.mean(other - c):+.2f}")
        print(f"| {s + 1} | {ok.sum()} | {np.median(c):+.2f} | {np.median(f):+.2f} | {np.median(p):+.2f} "
              f"| {cells[0]} | {cells[1]} |")
    print(f"\n{time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
