"""How much within-band detail is worth: oracle masks that are constant over bands of w bins.

For validation episodes (seen instruments, held-out pieces; 3 s mixtures, 2-4
interferers, the validation recipe) this prints the median / mean SI-SDR
improvement of the oracle ratio mask (docs: ``fewshot_sep.eval.oracle``, the
+14.7 dB reference of docs/results.md) when it is forced to one value per band
of ``w`` STFT bins and frame: the ideal band ratio ``sum|S_target| /
sum(|S_target| + |S_rest|)`` over the band's bins. ``w = 1`` is the plain IRM;
``w = 16`` is the separator's band width (44.1 kHz, n_fft 1024: 43 Hz per bin).
The separator is not limited to band-constant masks (its band merge gives each
bin its own weights on 32 band features), so the table is not its bound; it
shows how much of the oracle's score lies in detail finer than a band.

    python scripts/band_oracle.py                 # 128 episodes, widths 1 2 4 8 16 32
    python scripts/band_oracle.py --episodes 64 --widths 1 16
"""

from __future__ import annotations

import argparse

import numpy as np

from fewshot_sep.data.episodes import EpisodeConfig, EpisodeSampler
from fewshot_sep.eval.metrics import si_sdr_improvement
from fewshot_sep.eval.oracle import apply_mask_offline
from fewshot_sep.realtime.stft import HOP, N_FFT, stft


def band_ratio_mask(target_mag: np.ndarray, rest_mag: np.ndarray, width: int) -> np.ndarray:
    """Ideal ratio mask ``[F, T]`` held constant over consecutive bands of ``width`` bins
    (the last band may be shorter); magnitudes ``[F, T]``."""
    mask = np.empty_like(target_mag)
    for start in range(0, target_mag.shape[0], width):
        band = slice(start, start + width)
        t = target_mag[band].sum(axis=0)
        mask[band] = t / np.maximum(t + rest_mag[band].sum(axis=0), 1e-8)
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/render")
    parser.add_argument("--episodes", type=int, default=128)
    parser.add_argument("--widths", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--seed", type=int, default=1234, help="episode seed (1234: the training runs' validation set)")
    args = parser.parse_args()
    if args.episodes < 1 or any(w < 1 for w in args.widths):
        parser.error(f"--episodes {args.episodes} / --widths {args.widths}: use positive integers")

    recipe = EpisodeConfig(splits=("val",), clip_seconds=3.0, support_seconds=3.0, k_range=(5, 5),
                           n_interferers=(2, 4), negative_prob=0.0)
    sampler = EpisodeSampler(args.data, recipe, seed=args.seed)
    scores: dict[int, list[float]] = {w: [] for w in args.widths}
    pad = N_FFT - 1
    for index in range(args.episodes):
        episode = sampler.episode(index)
        mixture = np.pad(episode.mixture.astype(np.float32), (0, pad))
        target = np.pad(episode.target.astype(np.float32), (0, pad))
        target_mag = np.abs(stft(target, N_FFT, HOP))
        rest_mag = np.abs(stft(mixture - target, N_FFT, HOP))
        for width in args.widths:
            estimate = apply_mask_offline(mixture, band_ratio_mask(target_mag, rest_mag, width))
            scores[width].append(si_sdr_improvement(episode.target, estimate[: episode.target.size], episode.mixture))
    print(f"# oracle band-constant ratio masks, {args.episodes} validation episodes (3 s, 2-4 interferers)")
    print("| band width (bins) | band width (Hz) | median SI-SDRi (dB) | mean (dB) |")
    print("|---:|---:|---:|---:|")
    for width in args.widths:
        values = np.asarray(scores[width])
        print(f"| {width} | {width * 44100 / N_FFT:.0f} | {np.median(values):+.2f} | {np.mean(values):+.2f} |")


if __name__ == "__main__":
    main()
