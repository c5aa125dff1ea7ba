"""Where a model's masks go wrong on the robustness suite: coarse (which band) or fine (which bins).

Usage:
    python scripts/mask_diagnosis.py [--data data/robust] [--condition robust] [--split test test_unseen]
        [--episodes 60] [--band-width 16] [--model MODEL_DIR] [--write docs/history/robust-runs.md]

For each episode of the suite (the same episodes `fewshot-sep evaluate --suite robust` scores:
seed 0, 4 s mixtures, k = 5 examples of 1 s, no negatives) the exported model separates the
mixture (stereo, channel by channel, as `separate` does), and its mask is read back from the
estimate, ``|E| / |X|`` on the project's STFT. Then, with the ideal ratio mask
``|T| / (|T| + |X - T|)`` of the same episode, every mask is split into a coarse part (its
energy-weighted mean over bands of `band_width` bins) and a fine part (its ratio to that
mean), and these are recombined:

- ``model``: the model's mask as read back (matches the model's own score to ~0.05 dB);
- ``model, band-smoothed``: the model's coarse part only: what its fine structure adds;
- ``ideal, band-smoothed``: the best mask that is constant within each band;
- ``model coarse, ideal fine`` / ``ideal coarse, model fine``: what fixing one part is worth;
- ``model ^ p``: the mask raised to a power (too soft or too hard a mask shows here);
- ``model, stereo re-weighted (ideal / estimated)``: what the stereo image is worth to masks
  that separate each channel on its own. Each bin's pan (its left/right level ratio) gets a
  likelihood under the target and under the rest (histograms over the mix); the model's mask,
  as a prior, becomes the posterior ``m r / (m r + 1 - m)`` with ``r`` the likelihood ratio.
  "Ideal" takes the histograms from the true stems; "estimated" from the masks themselves
  (`EM_STEPS` expectation-maximisation steps from the model's mask, no training). Mono
  mixtures have no pan: the posterior is the model's mask.

Prints (or writes between markers into `--write`) a table of median SI-SDRi and the paired
median difference from ``model`` with its bootstrap 95 % interval, per split. Needs no torch.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from fewshot_sep.contract.signal import N_FFT

MASK_VARIANTS = ("model", "model, band-smoothed", "ideal, band-smoothed", "model coarse, ideal fine",
                 "ideal coarse, model fine", "model ^ 0.5", "model ^ 2")
STEREO_VARIANTS = ("model, stereo re-weighted (ideal)", "model, stereo re-weighted (estimated)")
VARIANTS = MASK_VARIANTS + STEREO_VARIANTS
PAN_BINS = 32
"""Histogram bins over the pan angle ``atan2(|R|, |L|)`` in [0, pi/2]."""
EM_STEPS = 6
"""Expectation-maximisation steps of the estimated stereo re-weighting."""
SECTION = "mask-diagnosis"


def band_smooth(mask: np.ndarray, weights: np.ndarray, band_width: int) -> np.ndarray:
    """Energy-weighted mean of `mask` over bands of `band_width` bins.

    Args:
        mask: ``[..., 513, T]`` real mask.
        weights: ``[..., 513, T]`` non-negative weights (the mixture's power).
        band_width: bins per band; must divide 512 (the Nyquist bin copies bin 511's band).

    Returns:
        ``[..., 513, T]``: each bin holds its band's weighted mean.
    """
    bins = mask.shape[-2] - 1
    if band_width < 1 or bins % band_width:
        raise ValueError(f"--band-width {band_width} is invalid: use a divisor of {bins} (e.g. 4, 8, 16)")
    lead, frames = mask.shape[:-2], mask.shape[-1]
    w = weights[..., :bins, :] + 1e-12
    shape = (*lead, bins // band_width, band_width, frames)
    mean = (mask[..., :bins, :] * w).reshape(shape).sum(-2) / w.reshape(shape).sum(-2)
    out = np.empty_like(mask)
    out[..., :bins, :] = np.repeat(mean, band_width, axis=-2)
    out[..., bins, :] = out[..., bins - 1, :]
    return out


def mask_variants(model_mask: np.ndarray, ideal_mask: np.ndarray, power: np.ndarray,
                  band_width: int) -> dict[str, np.ndarray]:
    """The masks of `MASK_VARIANTS` (all ``[..., 513, T]`` in [0, 1]) from the model's and the ideal mask."""
    model_coarse = band_smooth(model_mask, power, band_width)
    ideal_coarse = band_smooth(ideal_mask, power, band_width)
    clip = lambda m: np.clip(m, 0.0, 1.0)  # noqa: E731
    return {
        "model": model_mask,
        "model, band-smoothed": model_coarse,
        "ideal, band-smoothed": ideal_coarse,
        "model coarse, ideal fine": clip(model_coarse * ideal_mask / (ideal_coarse + 1e-6)),
        "ideal coarse, model fine": clip(ideal_coarse * model_mask / (model_coarse + 1e-6)),
        "model ^ 0.5": model_mask ** 0.5,
        "model ^ 2": model_mask ** 2,
    }


def pan_histogram(pan_bin: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Normalised histogram ``[PAN_BINS]`` of bins ``pan_bin [F, T]`` (ints) weighted by ``weights
    [F, T]``, floored at 1e-3 of the mean and smoothed over neighbouring pan bins."""
    hist = np.bincount(pan_bin.ravel(), weights.ravel(), PAN_BINS)
    hist = hist + 1e-3 * hist.sum() / PAN_BINS + 1e-20
    hist = np.convolve(np.pad(hist, 1, mode="edge"), [0.25, 0.5, 0.25], "valid")
    return hist / hist.sum()


def stereo_posterior(prior: np.ndarray, pan_bin: np.ndarray, target_weights: np.ndarray,
                     rest_weights: np.ndarray) -> np.ndarray:
    """The mask ``prior [C, F, T]`` re-weighted by the pan likelihood ratio of target and rest,
    whose histograms are weighted by ``target_weights`` / ``rest_weights [F, T]``."""
    ratio = (pan_histogram(pan_bin, target_weights) / pan_histogram(pan_bin, rest_weights))[pan_bin]
    return prior * ratio / (prior * ratio + (1.0 - prior) + 1e-9)


def stereo_reweighted(model_mask: np.ndarray, spec_mix: np.ndarray, spec_target: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(ideal, estimated)`` stereo re-weightings ``[2, F, T]`` of the model's mask ``[2, F, T]``
    (see the module docstring); ``spec_*``: the mixture's and the target's STFT ``[2, F, T]``."""
    magnitude = np.abs(spec_mix)
    pan_bin = np.minimum((np.arctan2(magnitude[1], magnitude[0]) / (np.pi / 2) * PAN_BINS).astype(int), PAN_BINS - 1)
    power = (np.abs(spec_target) ** 2).sum(0), (np.abs(spec_mix - spec_target) ** 2).sum(0)
    ideal = stereo_posterior(model_mask, pan_bin, *power)
    # magnitude weights (the square root of power): loud low bins would otherwise decide alone
    weights = np.sqrt((magnitude ** 2).sum(0))
    estimated = model_mask
    for _ in range(EM_STEPS):
        mean = estimated.mean(0)
        estimated = stereo_posterior(model_mask, pan_bin, mean * weights, (1.0 - mean) * weights)
    return ideal, estimated


def diagnose_episode(system, episode, band_width: int) -> dict[str, float] | None:
    """SI-SDRi (dB) of every variant on one robust episode; None for a silent target."""
    from fewshot_sep.eval.harness import per_channel
    from fewshot_sep.eval.oracle import apply_mask_offline, ideal_ratio_mask
    from fewshot_sep.eval.settings import SILENT_TARGET_DB
    from fewshot_sep.realtime.conditioning import build_conditioning
    from fewshot_sep.realtime.stft import stft
    from fewshot_sep.utils.metrics import energy_db, si_sdr

    mixture = np.atleast_2d(episode.mixture.astype(np.float32))
    target = np.atleast_2d(episode.target.astype(np.float32))
    if energy_db(target) < SILENT_TARGET_DB:
        return None
    vector = build_conditioning(system.embed(list(episode.support[:5])).mean(axis=0))
    estimate = per_channel(lambda ch: system.separate(ch, vector), mixture)
    # apply_mask_offline takes the input padded by n_fft - 1 zeros (latency-compensated output)
    pad = lambda a: np.pad(a, ((0, 0), (0, N_FFT - 1)))  # noqa: E731
    mix_padded = pad(mixture)
    spec_mix = stft(mix_padded)
    model_mask = np.clip(np.abs(stft(pad(estimate))) / (np.abs(spec_mix) + 1e-9), 0.0, 1.0)
    ideal = ideal_ratio_mask(pad(target), mix_padded)
    base = si_sdr(target, mixture)
    scores = {}
    variants = mask_variants(model_mask, ideal, np.abs(spec_mix) ** 2, band_width)
    if mixture.shape[0] == 2:
        reweighted = stereo_reweighted(model_mask, spec_mix, stft(pad(target)))
    else:
        reweighted = (model_mask, model_mask)
    variants.update(zip(STEREO_VARIANTS, reweighted))
    for name, mask in variants.items():
        out = np.stack([apply_mask_offline(mix_padded[c], mask[c]) for c in range(mixture.shape[0])])
        scores[name] = si_sdr(target, out) - base
    return scores


def table(results: dict[str, list[dict[str, float]]], header: str) -> str:
    """Markdown: per split, each variant's median and its paired median difference from ``model``."""
    from fewshot_sep.utils.metrics import bootstrap_median_ci

    lines = [header, "", "| mask | split | episodes | median SI-SDRi | minus the model's [95 % CI] |",
             "|---|---|---:|---:|---|"]
    for split, rows in results.items():
        model = np.array([r["model"] for r in rows])
        for name in VARIANTS:
            values = np.array([r[name] for r in rows])
            cell = "" if name == "model" else "{:+.2f} [{:+.2f}, {:+.2f}]".format(*bootstrap_median_ci(values - model))
            lines.append(f"| {name} | {split} | {len(rows)} | {np.median(values):+.2f} | {cell} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="data/robust", help="the robust set (fewshot-sep data render-robust)")
    parser.add_argument("--condition", default="robust", help="a robust suite condition (default: the headline)")
    parser.add_argument("--split", nargs="+", default=["test", "test_unseen"])
    parser.add_argument("--episodes", type=int, default=60, help="episodes per split (the suite's first ones)")
    parser.add_argument("--band-width", type=int, default=16, help="bins per band (the release's band split: 16)")
    parser.add_argument("--model", default=None, help="exported model folder (default: the packaged model)")
    parser.add_argument("--write", default=None, help="a markdown file whose mask-diagnosis section to replace")
    args = parser.parse_args(argv)

    from fewshot_sep.eval.robust import RobustEpisodes
    from fewshot_sep.eval.settings import EVAL_SPLITS, N_NEGATIVES
    from fewshot_sep.eval.systems import OnnxFewShot
    from tqdm import tqdm

    system = OnnxFewShot(args.model)
    results: dict[str, list[dict[str, float]]] = {}
    for split in args.split:
        # the suite's own episodes: evaluate's seed 0, one seed per split
        episodes = RobustEpisodes(args.data, args.condition, split, 4.0, 1.0, 5, N_NEGATIVES, EVAL_SPLITS.index(split))
        rows = []
        for index in tqdm(range(args.episodes), desc=f"{args.condition}:{split}", unit="episode"):
            scores = diagnose_episode(system, episodes.episode(index), args.band_width)
            if scores is not None:
                rows.append(scores)
        results["seen" if split == "test" else "unseen" if split == "test_unseen" else split] = rows
    command = " ".join(["python scripts/mask_diagnosis.py", *(argv if argv is not None else sys.argv[1:])])
    header = (f"Condition `{args.condition}`, k = 5 examples of 1 s, no negatives, bands of {args.band_width} "
              "bins; every mask applied to the mixture's STFT.")
    text = table(results, header)
    print(text, end="")
    if args.write:
        from fewshot_sep.eval.report import write_generated_section

        write_generated_section(args.write, SECTION, command, text)
        print(f"wrote the table into {args.write} (section {SECTION})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
