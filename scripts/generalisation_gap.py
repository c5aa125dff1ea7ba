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
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler
from fewshot_sep.model import build_model
from fewshot_sep.train.batches import make_batch
from fewshot_sep.train.config import load_config
from fewshot_sep.train.loop import OffsetSource, evaluate, initialise_from, to_tensors

RECIPES = ((1.0, 1.0, (1, 4)), (3.0, 3.0, (2, 4)))  # (crop s, support clip s, interferers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="the model's training config (YAML)")
    parser.add_argument("checkpoint", help="checkpoint .pt (or run folder) with the weights")
    parser.add_argument("--data", default="data/render")
    parser.add_argument("--episodes", type=int, default=192, help="episodes per split and recipe")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    model = build_model(config)
    initialise_from(model, args.checkpoint)
    model.eval()
    print("| crop (s) | interferers | split | median SI-SDRi (dB) | mean (dB) | episodes |")
    print("|---:|---|---|---:|---:|---:|")
    for crop, support, interferers in RECIPES:
        for split in ("train", "val"):
            recipe = EpisodeConfig(splits=(split,), clip_seconds=crop, support_seconds=support,
                                   k_range=(args.k, args.k), n_interferers=interferers, coherent_prob=0.7,
                                   negative_prob=0.0)
            sampler = EpisodeSampler(args.data, recipe, seed=args.seed)
            scores = [evaluate(model, [to_tensors(make_batch(OffsetSource(sampler, start), 0, min(16, args.episodes - start), 0), torch.device("cpu"))])
                      for start in range(0, args.episodes, 16)]
            values = np.concatenate(scores)
            print(f"| {crop:.0f} | {interferers[0]}-{interferers[1]} | {split} | {np.median(values):+.2f} | "
                  f"{values.mean():+.2f} | {len(values)} |", flush=True)


if __name__ == "__main__":
    main()
