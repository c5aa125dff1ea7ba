"""Oracle ideal ratio mask: the upper bound of this model family.

The separator multiplies the mixture's complex STFT by a real mask in [0, 1]
(docs/internals.md: ``n_fft = 1024``, ``hop = 256``, periodic Hann, the
streaming framing). The oracle uses the same STFT, the same synthesis and the
mixture phase, with the magnitude ideal ratio mask computed from the true
sources::

    M = |S_target| / (|S_target| + |S_rest|)        (S_rest = STFT(mixture - target))

(the "IRM1" of open-unmix / museval's oracle baselines). It is a reference,
not a strict bound: a learnt mask could beat it on a given excerpt, but a
model that does is suspicious.
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.realtime.stft import HOP, N_FFT, istft, stft


def apply_mask_offline(mixture: np.ndarray, mask: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Mask the mixture's STFT and resynthesise, latency-compensated.

    Args:
        mixture: ``[n_samples]`` float32, already padded at the end by ``n_fft - 1`` zeros
            (see :func:`ideal_ratio_mask_estimate`), so every input sample reaches the output.
        mask: ``[n_fft/2 + 1, n_frames]`` real mask for ``stft(mixture)``.

    Returns:
        ``[n_samples - (n_fft - 1)]`` float32: output sample n is the masked input sample n.
    """
    spec = stft(mixture, n_fft, hop)
    out = istft(spec * mask, mixture.shape[-1], n_fft, hop)
    return out[n_fft - 1 :]


def ideal_ratio_mask(target: np.ndarray, mixture: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Magnitude IRM ``[n_fft/2 + 1, n_frames]`` in [0, 1] of `target` within `mixture` (both ``[n]``)."""
    target_mag = np.abs(stft(target, n_fft, hop))
    rest_mag = np.abs(stft(mixture - target, n_fft, hop))
    return target_mag / np.maximum(target_mag + rest_mag, 1e-8)


def ideal_ratio_mask_estimate(mixture: np.ndarray, target: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """The oracle IRM estimate ``[n]`` of `target` ``[n]`` from `mixture` ``[n]``, aligned with them."""
    mixture = np.asarray(mixture, dtype=np.float32)
    target = np.asarray(target, dtype=np.float32)
    pad = n_fft - 1
    mix_p = np.pad(mixture, (0, pad))
    tgt_p = np.pad(target, (0, pad))
    mask = ideal_ratio_mask(tgt_p, mix_p, n_fft, hop)
    return apply_mask_offline(mix_p, mask, n_fft, hop)[: mixture.size]
