"""Cost of making training batches on the CPU (episode sampling, produced mixes, timbre augmentation, collation).

On the lent GPU machine the batch workers, not the GPU, set the pace (docs/gpu-training.md):
this measures one process making the batches of a run config from its dataset: without the
timbre augmentation, with it in the worker, and with it deferred to the training device
(``data.augment.on_device``: the worker only draws the parameters; ``--finish`` also times
the device's share, ``fewshot_sep.train.device_augment.finish_batch``, in torch on this CPU).

Prints a table: seconds per batch and episodes per second per process (median over the steps,
after one warm-up batch), single-threaded.

    python benchmarks/bench_batches.py [--config configs/release-stage8.yaml] [--data-root data/device]
        [--steps 6] [--batch-size 32] [--finish]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy and torch start their thread pools

import numpy as np  # noqa: E402

from fewshot_sep.data.episodes import EpisodeSampler  # noqa: E402
from fewshot_sep.runs.config import load_config  # noqa: E402
from fewshot_sep.train.batches import make_batch  # noqa: E402
from fewshot_sep.train.loop import train_augment_config, train_episode_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/release-stage8.yaml")
    parser.add_argument("--data-root", help="dataset folder (default: the config's data.root)")
    parser.add_argument("--steps", type=int, default=6, help="batches timed per row (default 6)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--finish", action="store_true",
                        help="also time finish_batch (the device's share) in torch on this CPU")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    root = Path(args.data_root or config["data"]["root"])
    sampler = EpisodeSampler(root, train_episode_config(config), seed=int(config["seed"]))
    sampler.load_into_memory(cache=bool(config["data"].get("memstore_cache", False)))
    production = float(config["data"].get("production_prob", 0.0))
    stereo = bool(config["model"].get("stereo_input", False))  # produced episodes kept in stereo
    if production > 0:  # produced mixes (effect chains per stem) are made in the worker too
        from fewshot_sep.data.production import ProducedEpisodes

        sampler = ProducedEpisodes(sampler, production, int(config["seed"]), stereo=stereo)
    augment_cfg = train_augment_config(config)
    print(f"config {args.config}, data {root}, batch {args.batch_size}, 1 thread, "
          f"median of {args.steps} batches, produced mixes in {production:.0%} of the episodes"
          + (" (kept in stereo: their sources are not augmented)" if stereo and production > 0 else ""))
    print("| augmentation | s per batch | episodes/s per process |")
    print("|---|---:|---:|")
    deferred_cfg = replace(augment_cfg, enabled=True, on_device=True)
    rows = (("off", None), ("on, in the worker (on_device: false)", replace(augment_cfg, on_device=False)),
            ("on, deferred: the worker's share (on_device: true)", deferred_cfg))
    if stereo and production > 0:  # deferred batches refuse stereo episodes
        rows, args.finish = rows[:2], False
    for name, aug in rows:
        make_batch(sampler, 0, args.batch_size, int(config["seed"]), aug)  # warm-up: caches, page-in
        times = []
        for step in range(1, args.steps + 1):
            start = time.perf_counter()
            make_batch(sampler, step, args.batch_size, int(config["seed"]), aug)
            times.append(time.perf_counter() - start)
        seconds = float(np.median(times))
        print(f"| {name} | {seconds:.3f} | {args.batch_size / seconds:.0f} |")
    if args.finish:
        # The device's share, here in torch on this CPU (1 thread): an upper bound for a GPU.
        import torch

        from fewshot_sep.train.device_augment import finish_batch
        from fewshot_sep.train.loop import to_tensors

        torch.set_num_threads(1)
        batches = [to_tensors(make_batch(sampler, step, args.batch_size, int(config["seed"]), deferred_cfg),
                              torch.device("cpu")) for step in range(1, args.steps + 1)]
        finish_batch(batches[0], deferred_cfg)
        times = []
        for batch in batches:
            start = time.perf_counter()
            finish_batch(batch, deferred_cfg)
            times.append(time.perf_counter() - start)
        seconds = float(np.median(times))
        print(f"| deferred: finish_batch in torch on this CPU (the device's share) | {seconds:.3f} | "
              f"{args.batch_size / seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
