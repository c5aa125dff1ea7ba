"""Where the separator loses: validation SI-SDRi by input SI-SDR and by target instrument,
and whether it follows its conditioning.

On validation episodes (seen instruments, held-out pieces; 4 s mixtures, 2-4
interferers, k = 5 support clips of 3 s, the evaluation recipe) this prints

- the median SI-SDR improvement per bin of the target's input SI-SDR (how loud
  the target already is in the mixture);
- the median per target instrument, worst first;
- the conditioning check: the same mixture separated twice, once with the
  target's support and once with 5 clips of one of its interferers'
  instruments, each output scored against both sources. A separator that
  follows its conditioning gains on the source it was asked for and loses on
  the other.

    python scripts/val_breakdown.py --model models/release-stage4
    python scripts/val_breakdown.py --model runs/release6/best.pt --episodes 64

Episodes with a silent target are skipped. Runs the torch checkpoint on one thread.
"""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np

INPUT_SDR_EDGES = (-10.0, -5.0, 0.0, 5.0)  # dB; bins (-inf, -10), [-10, -5), ..., [5, inf)


def median_by_bins(values: Sequence[float], keys: Sequence[float], edges: Sequence[float]) -> list[tuple[str, int, float]]:
    """Median of ``values`` per bin of ``keys`` (same length) cut at ``edges`` (ascending).

    Returns ``(label, count, median)`` per bin, ``nan`` for an empty bin; the
    first and last bins are open (``< edges[0]``, ``>= edges[-1]``).
    """
    values, keys = np.asarray(values, float), np.asarray(keys, float)
    bounds = [-np.inf, *edges, np.inf]
    out = []
    for low, high in zip(bounds[:-1], bounds[1:]):
        inside = (keys >= low) & (keys < high)
        label = f"< {high:+g}" if low == -np.inf else (f">= {low:+g}" if high == np.inf else f"[{low:+g}, {high:+g})")
        out.append((label, int(inside.sum()), float(np.median(values[inside])) if inside.any() else float("nan")))
    return out


def median_by_label(values: Sequence[float], labels: Sequence[str]) -> list[tuple[str, int, float]]:
    """``(label, count, median)`` per distinct label, lowest median first."""
    groups: dict[str, list[float]] = {}
    for value, label in zip(values, labels):
        groups.setdefault(label, []).append(float(value))
    return sorted(((k, len(v), float(np.median(v))) for k, v in groups.items()), key=lambda row: row[2])


def main() -> None:
    from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler
    from fewshot_sep.data.gm import instrument_name
    from fewshot_sep.eval.metrics import si_sdr, si_sdr_improvement
    from fewshot_sep.eval.systems import TorchFewShot
    from fewshot_sep.realtime.conditioning import build_conditioning

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/release", help="run folder, checkpoint file or published model folder")
    parser.add_argument("--data", default="data/render")
    parser.add_argument("--episodes", type=int, default=128)
    parser.add_argument("--seed", type=int, default=4321, help="episode seed (not the training runs' validation seed)")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes}: use a positive integer")

    system = TorchFewShot(args.model)
    recipe = EpisodeConfig(splits=("val",), clip_seconds=4.0, support_seconds=3.0, k_range=(5, 5),
                           n_interferers=(2, 4), negative_prob=1.0, negatives_range=(5, 5))
    sampler = EpisodeSampler(args.data, recipe, seed=args.seed)
    gains, input_sdrs, names, follow = [], [], [], []
    for index in range(args.episodes):
        episode = sampler.episode(index)
        if np.abs(episode.target).max() < 1e-4:
            continue
        positive = system.embed(list(episode.support)).mean(axis=0)
        estimate = system.separate(episode.mixture, build_conditioning(positive, None))
        gains.append(si_sdr_improvement(episode.target, estimate, episode.mixture))
        input_sdrs.append(si_sdr(episode.target, episode.mixture))
        names.append(instrument_name(episode.target_instrument))
        if episode.negatives.shape[0]:  # 5 clips of an interferer's instrument
            other = episode.interferers[episode.interferer_instruments.index(episode.negative_instrument)]
            other_estimate = system.separate(episode.mixture,
                                             build_conditioning(system.embed(list(episode.negatives)).mean(axis=0), None))
            follow.append([si_sdr_improvement(episode.target, estimate, episode.mixture),
                           si_sdr_improvement(other, other_estimate, episode.mixture),
                           si_sdr_improvement(episode.target, other_estimate, episode.mixture),
                           si_sdr_improvement(other, estimate, episode.mixture)])

    print(f"# {args.model}: {len(gains)} validation episodes (4 s, 2-4 interferers, k = 5), "
          f"median SI-SDRi {np.median(gains):+.2f} dB\n")
    print("| target's input SI-SDR (dB) | episodes | median SI-SDRi (dB) |\n|---|---:|---:|")
    for label, count, median in median_by_bins(gains, input_sdrs, INPUT_SDR_EDGES):
        print(f"| {label} | {count} | {median:+.2f} |")
    print("\n| target instrument | episodes | median SI-SDRi (dB) |\n|---|---:|---:|")
    for label, count, median in median_by_label(gains, names):
        print(f"| {label} | {count} | {median:+.2f} |")
    if follow:
        table = np.asarray(follow)
        print(f"\n| conditioned on ({len(table)} episodes) | SI-SDRi of the target (dB) | of the other instrument (dB) |\n|---|---:|---:|")
        print(f"| the target's 5 clips | {np.median(table[:, 0]):+.2f} | {np.median(table[:, 3]):+.2f} |")
        print(f"| 5 clips of the other instrument | {np.median(table[:, 2]):+.2f} | {np.median(table[:, 1]):+.2f} |")


if __name__ == "__main__":
    main()
