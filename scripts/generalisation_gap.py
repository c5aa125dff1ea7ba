"""Generalisation gap: one model, one episode recipe, training split vs validation split.

Builds episodes with the same recipe (crop length, k, number of interferers,
70 % same-work mixtures, no negatives, no augmentation) from the ``train``
split and from the ``val`` split (seen instruments, held-out pieces) and prints
the model's median / mean SI-SDR improvement on each. A model that scores much
better on the training split than on held-out pieces is overfitting; one that
scores the same on both is underfitting: more data or regularisation will not
help it, capacity or optimisation will.

    python scripts/generalisation_gap.py configs/release-stage3b.yaml models/release-stage3b/checkpoint.pt

Two recipes are measured: the training crops (1 s, 1-4 interferers, 1 s
support clips) and the validation ones (3 s, 2-4 interferers, 3 s support clips).

``--works-of DIR`` splits the training split in two: the works listed in
``DIR/manifest.csv`` (e.g. ``data/device``, the subset a remote run trained on,
scripts/device_data.py) and all the other training works; each set's episodes
draw their interferers and support clips from that set only:

    python scripts/generalisation_gap.py configs/release-stage7.yaml models/release-stage4/checkpoint.pt \
        runs/release7/snapshot-0006150.pt --works-of data/device --recipes 3 --episodes 192

With several checkpoints (each loaded into the config's model with
``train.init_from``'s rules, so a narrower one runs as itself), all are scored
on the same episodes, and every one after the first gets the median of its
per-episode difference to the first with a bootstrap 95 % interval: medians of
different episode sets move by several tenths of a dB, paired differences far
less.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler
from fewshot_sep.data.manifest import read_manifest
from fewshot_sep.eval.metrics import bootstrap_median_ci
from fewshot_sep.model import build_model
from fewshot_sep.train.config import load_config
from fewshot_sep.train.loop import evaluate, initialise_from, validation_batches

RECIPES = ((1.0, 1.0, (1, 4)), (3.0, 3.0, (2, 4)))  # (crop s, support clip s, interferers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="the model's training config (YAML)")
    parser.add_argument("checkpoints", nargs="+", help="checkpoints .pt (or run folders); the first is the reference")
    parser.add_argument("--data", default="data/render")
    parser.add_argument("--episodes", type=int, default=192, help="episodes per split and recipe")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--works-of", default=None, metavar="DIR",
                        help="split the train split into the works of DIR/manifest.csv and the others")
    parser.add_argument("--recipes", nargs="+", type=int, choices=(1, 3), default=[1, 3],
                        help="crop lengths to measure (default both: 1 3)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    models = []
    for path in args.checkpoints:
        model = build_model(config)
        initialise_from(model, path)
        models.append(model.eval())
    print("| crop (s) | interferers | split | checkpoint | median SI-SDRi (dB) | mean (dB) | episodes | "
          "paired difference to the first (dB) |")
    print("|---:|---|---|---|---:|---:|---:|---|")
    rows = read_manifest(args.data)
    sets = [("train", rows, "train"), ("val", rows, "val")]
    if args.works_of:
        subset = {r["work_id"] for r in read_manifest(args.works_of)}
        sets = [(f"train, works of {args.works_of}", [r for r in rows if r["work_id"] in subset], "train"),
                ("train, other works", [r for r in rows if r["work_id"] not in subset], "train"),
                ("val", rows, "val")]
    for crop, support, interferers in RECIPES:
        if int(crop) not in args.recipes:
            continue
        for label, set_rows, split in sets:
            recipe = EpisodeConfig(splits=(split,), clip_seconds=crop, support_seconds=support,
                                   k_range=(args.k, args.k), n_interferers=interferers, coherent_prob=0.7,
                                   negative_prob=0.0)
            sampler = EpisodeSampler(set_rows, recipe, seed=args.seed, root=args.data)
            batches = validation_batches(sampler, args.episodes, 16, torch.device("cpu"))
            reference = None
            for path, model in zip(args.checkpoints, models):
                values = evaluate(model, batches)
                paired = "–"
                if reference is None:
                    reference = values
                else:
                    median, low, high = bootstrap_median_ci(values - reference)
                    paired = f"{median:+.2f} [{low:+.2f}, {high:+.2f}]"
                print(f"| {crop:.0f} | {interferers[0]}-{interferers[1]} | {label} | {path} | {np.median(values):+.2f} | "
                      f"{values.mean():+.2f} | {len(values)} | {paired} |", flush=True)


if __name__ == "__main__":
    main()
