"""How close are the clip encoder's embeddings? (explains the k-shot and negatives figures)

    python scripts/embedding_similarity.py [--model models/release] [--root data/render] [--episodes 40]

On validation episodes (10 support clips of 1 s and 5 negative clips each) prints:
- cosine of one clip's embedding with the normalised mean of 5 other clips of the
  same instrument (near 1: a single example already gives almost the k = 5 vector);
- cosine of the mean negative embedding with the mean positive one (near 0: the
  negative half of the conditioning carries different information);
- cosine between the 5-clip means of different instruments.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler
from fewshot_sep.model import stft as S
from fewshot_sep.train.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/release", help="run folder or published model folder")
    parser.add_argument("--root", default="data/render")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_checkpoint(args.model, which="checkpoint")
    model.eval()
    cfg = EpisodeConfig(splits=("val",), clip_seconds=3.0, support_seconds=1.0, k_range=(10, 10),
                        n_interferers=(2, 4), negative_prob=1.0, negatives_range=(5, 5))
    source = EpisodeSampler(args.root, cfg, seed=args.seed)

    def embed(clips: np.ndarray) -> torch.Tensor:
        return model.encoder(S.stft(torch.from_numpy(clips)).abs().unsqueeze(1))

    def unit(v: torch.Tensor) -> torch.Tensor:
        return v / v.norm()

    one_vs_mean, negative_vs_positive, means = [], [], {}
    with torch.no_grad():
        for i in range(args.episodes):
            episode = source.episode(i)
            emb = embed(episode.support)
            mean5 = unit(emb[:5].mean(0))
            one_vs_mean += [float(emb[j] @ mean5) for j in range(5, 10)]
            if len(episode.negatives):
                negative_vs_positive.append(float(unit(embed(episode.negatives).mean(0)) @ mean5))
            means.setdefault(int(episode.target_instrument), mean5)
    instruments = sorted(means)
    cross = [float(means[a] @ means[b]) for i, a in enumerate(instruments) for b in instruments[i + 1:]]
    print(f"model {args.model}; {args.episodes} validation episodes, {len(instruments)} instruments")
    print("| quantity | median | 10th percentile | 90th percentile | n |\n|---|---:|---:|---:|---:|")
    for name, values in (("cos(one clip, mean of 5 other clips, same instrument)", one_vs_mean),
                         ("cos(mean negative, mean positive), same episode", negative_vs_positive),
                         ("cos(5-clip means of two different instruments)", cross)):
        v = np.asarray(values)
        print(f"| {name} | {np.median(v):.3f} | {np.percentile(v, 10):.3f} | {np.percentile(v, 90):.3f} | {len(v)} |")


if __name__ == "__main__":
    main()
