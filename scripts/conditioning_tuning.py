"""Tune the conditioning vector of an episode on its own support clips (test-time adaptation).

Few-shot models usually take the encoder's embedding as final. Here the
conditioning vector ``[2E + 1]`` of each validation episode starts as the
product's (mean embedding of the k support clips, no negatives) and is then
optimised by gradient descent through the frozen separator, to separate the
support clips themselves out of synthetic mixtures: every support clip mixed
with beds of other instruments (1 s mixtures of 2-4 instruments from the train
split, ``--bed-split``, none of them the target's instrument, at a target-to-bed ratio drawn
from ``--snr-db``). Loss: the negative SI-SDR of the estimates (the training
loss's main term). The tuned vector then separates the episode's 4 s mixture,
and is compared on the same episode with the untuned one (paired SI-SDRi).

It asks whether the encoder's vector is far from the best conditioning the
separator could use for this instrument: a gain here would make a "tune
preset" step worth building (it needs torch, so it could not run in the
run-time path as is). Nothing of the episode's mixture or target is used for
tuning.

    python scripts/conditioning_tuning.py models/release --episodes 64 --steps 30

Prints a Markdown table: median SI-SDRi of the plain and the tuned vectors,
paired median / mean differences with a bootstrap 95 % interval, and the
tuning loss before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def tuning_loss(model, latency: int, vector, targets, mixtures):
    """Mean negative SI-SDR (dB) of the model's estimates of ``targets [N, n]`` from
    ``mixtures [N, n]`` (both padded with `latency` zeros) under conditioning ``vector [1, D]``."""
    from fewshot_sep.train.loop import separate_batch
    from fewshot_sep.train.losses import si_sdr

    estimate, _ = separate_batch(model, {"mixture": mixtures}, vector.expand(mixtures.shape[0], -1))
    # the estimate is delayed by the latency; compare with the equally delayed target
    return -si_sdr(estimate[:, latency:], targets[:, :-latency]).mean()


def tune_vector(model, latency: int, start: np.ndarray, targets, mixtures, steps: int,
                lr: float, tuned_entries: int | None = None) -> tuple[np.ndarray, float, float]:
    """Adam on the conditioning vector ``start [D]`` through the frozen `model`'s separator:
    returns ``(tuned [D], tuning loss before, after)`` (losses in dB, see :func:`tuning_loss`).
    ``tuned_entries``: tune only the first that many entries (e.g. E, the positive half), keep the rest."""
    import torch

    vector = torch.from_numpy(np.asarray(start, np.float32)[None].copy()).requires_grad_(True)
    keep = torch.zeros_like(vector)
    keep[:, :tuned_entries] = 1.0
    optimiser = torch.optim.Adam([vector], lr=lr)
    with torch.no_grad():
        first = float(tuning_loss(model, latency, vector, targets, mixtures))
    for _ in range(steps):
        loss = tuning_loss(model, latency, vector, targets, mixtures)
        optimiser.zero_grad()
        loss.backward()
        vector.grad *= keep  # Adam leaves an entry whose gradient is always zero where it is
        optimiser.step()
    with torch.no_grad():
        last = float(tuning_loss(model, latency, vector, targets, mixtures))
    return vector.detach()[0].numpy(), first, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="run folder, checkpoint file or published model folder")
    parser.add_argument("--data", default="data/render", help="rendered dataset (val and train splits)")
    parser.add_argument("--split", default="val", help="split of the evaluated episodes")
    parser.add_argument("--bed-split", default="train", help="split the beds of other instruments come from")
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="gradient steps per episode")
    parser.add_argument("--lr", type=float, default=0.005, help="Adam learning rate on the vector")
    parser.add_argument("--beds", type=int, default=2, help="synthetic mixtures per support clip")
    parser.add_argument("--snr-db", type=float, nargs=2, default=(-8.0, 2.0), metavar=("LOW", "HIGH"),
                        help="support-clip-to-bed level ratio range, dB")
    parser.add_argument("--tune", choices=("all", "positive"), default="all",
                        help="entries of the vector to tune: all 2E + 1 (the negative half and flag too), or "
                             "the positive half only (the vectors the product makes)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.steps < 1 or args.beds < 1 or args.lr <= 0:
        parser.error("--episodes, --steps and --beds must be positive integers and --lr positive")

    import torch

    from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler
    from fewshot_sep.eval.metrics import bootstrap_median_ci, si_sdr_improvement
    from fewshot_sep.eval.systems import TorchFewShot
    from fewshot_sep.realtime.conditioning import build_conditioning

    system = TorchFewShot(args.model)
    torch.set_num_threads(args.threads)
    model = system.model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    latency = system.latency
    recipe = EpisodeConfig(splits=(args.split,), clip_seconds=4.0, support_seconds=1.0, k_range=(5, 5),
                           n_interferers=(2, 4), negative_prob=0.0)
    sampler = EpisodeSampler(args.data, recipe, seed=args.seed)
    bed_sampler = EpisodeSampler(args.data, EpisodeConfig(splits=(args.bed_split,), clip_seconds=1.0, k_range=(1, 1),
                                                          n_interferers=(1, 3), negative_prob=0.0),
                                 seed=args.seed + 1)
    rng = np.random.default_rng(args.seed)
    bed_index = 0

    def bed_without(instrument: int, samples: int) -> np.ndarray:
        """A 1 s mixture of the bed split in which `instrument` does not play."""
        nonlocal bed_index
        for _ in range(1000):
            bed_index += 1
            bed = bed_sampler.episode(bed_index)
            if instrument not in [bed.target_instrument, *bed.interferer_instruments]:
                return bed.mixture[:samples]
        raise SystemExit(f"no mixture of --bed-split {args.bed_split} without instrument {instrument} in 1000 "
                         "draws: give a split with other instruments")

    def tuning_batch(episode) -> tuple[torch.Tensor, torch.Tensor]:
        targets, mixtures = [], []
        for clip in episode.support:
            for _ in range(args.beds):
                bed = bed_without(episode.target_instrument, clip.size)
                bed = np.pad(bed, (0, clip.size - bed.size))
                snr = rng.uniform(*args.snr_db)
                gain = np.sqrt(np.mean(clip ** 2) / max(np.mean(bed ** 2), 1e-12) / 10 ** (snr / 10))
                targets.append(clip)
                mixtures.append(clip + gain * bed)
        pad = ((0, 0), (0, latency))
        return (torch.from_numpy(np.pad(np.stack(targets), pad).astype(np.float32)),
                torch.from_numpy(np.pad(np.stack(mixtures), pad).astype(np.float32)))

    plain_scores, tuned_scores, losses = [], [], []
    start = time.monotonic()
    for index in range(args.episodes):
        episode = sampler.episode(index)
        if np.abs(episode.target).max() < 1e-4:
            continue
        plain = build_conditioning(system.embed(list(episode.support)).mean(axis=0), None)
        targets, mixtures = tuning_batch(episode)
        entries = (plain.size - 1) // 2 if args.tune == "positive" else None
        tuned, first, last = tune_vector(model, latency, plain, targets, mixtures, args.steps, args.lr,
                                         entries)
        plain_scores.append(si_sdr_improvement(episode.target, system.separate(episode.mixture, plain),
                                               episode.mixture))
        tuned_scores.append(si_sdr_improvement(episode.target, system.separate(episode.mixture, tuned),
                                               episode.mixture))
        losses.append((first, last))
        print(f"episode {index}: plain {plain_scores[-1]:+.2f} tuned {tuned_scores[-1]:+.2f} dB, "
              f"tuning loss {first:+.2f} -> {last:+.2f} ({time.monotonic() - start:.0f} s)", file=sys.stderr)
    if not plain_scores:
        print("no scorable episode (every target was near-silent)", file=sys.stderr)
        return 1
    plain_a, tuned_a, loss_a = np.array(plain_scores), np.array(tuned_scores), np.array(losses)
    diff = tuned_a - plain_a
    _, low, high = bootstrap_median_ci(diff)
    print(f"# Conditioning tuning: {args.model}, {len(diff)} {args.split} episodes (4 s, 2-4 interferers, k = 5, "
          f"1 s support clips), {args.steps} Adam steps at lr {args.lr:g} on the {args.tune} entries, "
          f"{args.beds} beds per clip, "
          f"{time.monotonic() - start:.0f} s\n")
    print("| episodes | plain (median dB) | tuned (median dB) | tuned - plain, paired median [95 % CI] | "
          "paired mean | tuning loss before -> after (median, -SI-SDR dB) |")
    print("|---:|---:|---:|---|---:|---|")
    print(f"| {len(diff)} | {np.median(plain_a):+.2f} | {np.median(tuned_a):+.2f} | {np.median(diff):+.2f} "
          f"[{low:+.2f}, {high:+.2f}] | {diff.mean():+.2f} | {np.median(loss_a[:, 0]):+.2f} -> "
          f"{np.median(loss_a[:, 1]):+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
