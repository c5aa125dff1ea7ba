"""How much could suppressing the negative instrument add? Its ceiling, per episode.

On the episodes of ``fewshot-sep evaluate`` that have negatives (same sampler, same
seed, so the same mixtures), a torch checkpoint separates each mixture with the
k-shot support set, without and with the 3 negative clips; then the with-negatives
mask is applied to the mixture *without* the negative instrument's stem
(``mixture - negative stem``): what the estimate would be if the mask let none of
the negative instrument through and kept everything else exactly. Issue 3's
negatives bar is the median over episodes of SI-SDRi(with) - SI-SDRi(without); the
same median of SI-SDRi(ceiling) - SI-SDRi(without), with a bootstrap 95 % interval,
is what perfect suppression by the same masks would score on it. (Negatives could
also help another way, keeping target energy the model confuses with the negative;
that is not measured here.) The share of the estimate's error that the negative
instrument accounts for is printed beside it.

    python scripts/negative_ceiling.py models/release --episodes 300 --split val
    # the episodes of scripts/make_results.sh (k 1 3 5 10, 1 s clips)
    python scripts/negative_ceiling.py models/release --split test test_unseen --episodes 250 \
        --draw-k 10 --support-seconds 1

Prints a Markdown table (median and mean over episodes, in dB).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def episode_ceiling(worker, split: str, index: int, k: int) -> dict | None:
    """SI-SDRi (dB) of the with-negatives estimate and of the same mask on the mixture
    without the negative stem, and the negative's share of the estimate's error; None for an
    episode without negatives or with a near-silent target (the harness skips those too)."""
    from fewshot_sep.eval.harness import SILENT_TARGET_DB
    from fewshot_sep.eval.metrics import energy_db, si_sdr
    from fewshot_sep.realtime.conditioning import build_conditioning
    from fewshot_sep.realtime.stft import istft, stft

    ep = worker.samplers[split].episode(index)
    target = ep.target.astype(np.float32)
    if ep.negatives.shape[0] == 0 or energy_db(target) < SILENT_TARGET_DB:
        return None
    mixture = ep.mixture.astype(np.float32)
    negative = ep.interferers[ep.interferer_instruments.index(ep.negative_instrument)].astype(np.float32)
    system = worker.systems["fewshot-torch"]
    torch = system.torch
    support, negatives = system.embed(list(ep.support)), system.embed(list(ep.negatives))
    vectors = np.stack([build_conditioning(support[:k].mean(axis=0), None),
                        build_conditioning(support[:k].mean(axis=0), negatives.mean(axis=0))]).astype(np.float32)
    latency, n = system.latency, mixture.size
    spec = stft(np.pad(mixture, (0, latency)))
    magnitude = torch.from_numpy(np.abs(spec)[None, None].copy())
    with torch.inference_mode():
        plain_mask, mask = (system.model.separator(magnitude, torch.from_numpy(v[None].copy()))[0][0, 0].numpy()
                            for v in vectors)
    negative_spec = stft(np.pad(negative, (0, latency)))
    plain = istft(spec * plain_mask, n + latency)[latency:]
    estimate = istft(spec * mask, n + latency)[latency:]
    without_negative = istft((spec - negative_spec) * mask, n + latency)[latency:]
    leaked = estimate - without_negative  # = istft(negative_spec * mask): the synthesis is linear
    error = estimate - target
    base = si_sdr(target, mixture)
    return {"without": si_sdr(target, plain) - base, "with": si_sdr(target, estimate) - base,
            "ceiling": si_sdr(target, without_negative) - base,
            "share_db": 10 * np.log10((np.sum(leaked ** 2) + 1e-12) / (np.sum(error ** 2) + 1e-12))}


def _median_ci(values: np.ndarray) -> str:
    """Median with its bootstrap 95 % interval (the evaluation report's), as text."""
    from fewshot_sep.eval.metrics import bootstrap_median_ci

    median, low, high = bootstrap_median_ci(values)
    return f"{median:+.2f} [{low:+.2f}, {high:+.2f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="torch run folder or .pt with config.json beside it")
    parser.add_argument("--data", default="data/render", help="rendered dataset (default data/render)")
    parser.add_argument("--split", nargs="+", default=["val"], help="splits (default val)")
    parser.add_argument("--episodes", type=int, default=300, help="episodes sampled per split (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=5, help="support clips (default 5)")
    parser.add_argument("--draw-k", type=int, default=None,
                        help="the largest --k of the evaluation whose episodes to reproduce (it sets how many "
                             "support clips each episode draws; default: --k)")
    parser.add_argument("--support-seconds", type=float, default=3.0, help="support / negative clip length")
    parser.add_argument("--interferers", type=int, nargs=2, default=[2, 4], metavar=("LOW", "HIGH"))
    args = parser.parse_args(argv)

    from fewshot_sep.eval.harness import EvalSettings, _Worker

    # The harness's own worker: its samplers draw exactly the episodes `fewshot-sep evaluate`
    # draws for these settings (k = the largest k there, so the same support clips).
    settings = EvalSettings(data=args.data, splits=list(args.split), episodes=args.episodes, seed=args.seed,
                            ks=sorted({args.k, args.draw_k or args.k}), systems=["fewshot-torch"], checkpoint=args.checkpoint,
                            support_seconds=args.support_seconds, interferers=list(args.interferers))
    worker = _Worker(settings, None)
    started = time.monotonic()
    print(f"`python scripts/negative_ceiling.py {' '.join(sys.argv[1:] if argv is None else argv)}`\n")
    print("| split | episodes with negatives | without negatives, median (dB) | with negatives, median (dB) | "
          "same mask, negative stem removed, median (dB) | with vs without: paired median [95 % CI] | "
          "negative stem removed vs without: paired median [95 % CI] | vs with: paired median / mean | "
          "negative's leakage re the error, median (dB) |")
    print("|---|---:|---:|---:|---:|---|---|---|---:|")
    for split in args.split:
        rows = [r for r in (episode_ceiling(worker, split, i, args.k) for i in range(args.episodes)) if r]
        if not rows:
            print(f"| {split} | 0 | | | | |")
            continue
        wo = np.array([r["without"] for r in rows])
        w = np.array([r["with"] for r in rows])
        c = np.array([r["ceiling"] for r in rows])
        share = np.array([r["share_db"] for r in rows])
        print(f"| {split} | {len(rows)} | {np.median(wo):+.2f} | {np.median(w):+.2f} | {np.median(c):+.2f} "
              f"| {_median_ci(w - wo)} | {_median_ci(c - wo)} | {np.median(c - w):+.2f} / {(c - w).mean():+.2f} "
              f"| {np.median(share):+.1f} |")
    print(f"\n{time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
