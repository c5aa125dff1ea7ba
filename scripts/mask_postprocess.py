"""Inference-time mask post-processing on validation episodes: mask powers, a cascade and a second pass for the negatives.

For validation episodes (4 s, 2-4 interferers, k = 5 support clips and 3
negative clips of 3 s, the evaluation recipe) this separates each mixture with
the torch checkpoint and scores variants of its mask ``m [F, T]``:

- ``m^p`` for a few powers p (p < 1 keeps more, p > 1 removes more);
- a cascade: a second pass of the separator over the masked mixture ``|m X|``
  (same conditioning) gives ``m2``; scored as ``m m2``, ``m sqrt(m2)`` and ``m2``
  (no added latency: frame t of ``m X`` is known when frame t of ``m`` is);
- on episodes that have negatives: ``m_with`` (negatives folded into the
  conditioning, as the product does), and ``m_with`` combined with a second
  pass ``m_neg`` conditioned on the negatives as if they were the target
  (with the positives as its negatives): ``m (1 - a m_neg)`` for a in {1, 0.5},
  and ``m / (m + m_neg)`` where ``m + m_neg > 1``.

Every variant is compared on the same episodes with the plain mask (p = 1,
no negatives): median SI-SDRi and median paired difference.

    python scripts/mask_postprocess.py --model models/release-stage4 --episodes 96
"""

from __future__ import annotations

import argparse

import numpy as np

POWERS = (0.7, 0.85, 1.25, 1.5, 2.0)


def negative_variants(mask: np.ndarray, negative_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Ways to combine the target mask with a mask of the negatives' instrument (both ``[F, T]`` in 0..1)."""
    total = mask + negative_mask
    return {
        "m (1 - m_neg)": mask * (1.0 - negative_mask),
        "m (1 - m_neg / 2)": mask * (1.0 - 0.5 * negative_mask),
        "m / (m + m_neg) where > 1": np.where(total > 1.0, mask / np.maximum(total, 1e-6), mask),
    }


def cascade_variants(mask: np.ndarray, second: np.ndarray) -> dict[str, np.ndarray]:
    """Ways to combine the mask with ``second``, the separator's mask for the masked mixture (both ``[F, T]`` in 0..1)."""
    return {"cascade: m m2": mask * second, "cascade: m sqrt(m2)": mask * np.sqrt(second),
            "cascade: m2 alone": second}


def main() -> None:
    import torch

    from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler
    from fewshot_sep.eval.metrics import si_sdr_improvement
    from fewshot_sep.eval.systems import TorchFewShot, _delay_compensate
    from fewshot_sep.realtime.conditioning import build_conditioning
    from fewshot_sep.realtime.stft import istft, stft

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/release", help="run folder, checkpoint file or published model folder")
    parser.add_argument("--data", default="data/render")
    parser.add_argument("--episodes", type=int, default=96)
    parser.add_argument("--seed", type=int, default=4321)
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error(f"--episodes {args.episodes}: use a positive integer")

    system = TorchFewShot(args.model)
    recipe = EpisodeConfig(splits=("val",), clip_seconds=4.0, support_seconds=3.0, k_range=(5, 5),
                           n_interferers=(2, 4), negative_prob=1.0, negatives_range=(3, 3))
    sampler = EpisodeSampler(args.data, recipe, seed=args.seed)
    scores: dict[str, dict[int, float]] = {}
    for index in range(args.episodes):
        episode = sampler.episode(index)
        if np.abs(episode.target).max() < 1e-4:
            continue
        n = episode.mixture.size
        padded = np.pad(episode.mixture.astype(np.float32), (0, system.latency))
        spec = stft(padded)
        magnitude = torch.from_numpy(np.abs(spec)[None, None].copy())

        def mask_for(vector: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
            """The separator's mask ``[F, T]`` for the mixture (or the mixture masked by `weights`)."""
            source = magnitude if weights is None else magnitude * torch.from_numpy(weights)
            with torch.inference_mode():
                cond = torch.from_numpy(np.asarray(vector, np.float32)[None].copy())
                return system.model.separator(source, cond)[0][0, 0].numpy()

        def score(name: str, mask: np.ndarray) -> None:
            estimate = _delay_compensate(istft(spec * mask, padded.size), system.latency, n)
            scores.setdefault(name, {})[index] = si_sdr_improvement(episode.target, estimate, episode.mixture)

        positive = system.embed(list(episode.support)).mean(axis=0)
        plain = mask_for(build_conditioning(positive, None))
        score("plain mask (p = 1, no negatives)", plain)
        for power in POWERS:
            score(f"m^{power:g}", plain ** power)
        for name, mask in cascade_variants(plain, mask_for(build_conditioning(positive, None), plain)).items():
            score(name, mask)
        if episode.negatives.shape[0]:
            negative = system.embed(list(episode.negatives)).mean(axis=0)
            with_negatives = mask_for(build_conditioning(positive, negative))
            score("m_with (negatives in the conditioning)", with_negatives)
            for name, mask in negative_variants(with_negatives, mask_for(build_conditioning(negative, positive))).items():
                score(f"second pass: {name}, m = m_with", mask)

    baseline = scores["plain mask (p = 1, no negatives)"]
    print(f"# {args.model}: validation episodes (4 s, 2-4 interferers, k = 5, 3 negatives)\n")
    print("| variant | episodes | median SI-SDRi (dB) | median paired difference to the plain mask (dB) |")
    print("|---|---:|---:|---:|")
    for name, values in scores.items():
        ids = sorted(values)
        diff = [values[i] - baseline[i] for i in ids]
        print(f"| {name} | {len(ids)} | {np.median([values[i] for i in ids]):+.2f} | {np.median(diff):+.2f} |")


if __name__ == "__main__":
    main()
