"""Torch STFT / inverse STFT with the project's exact framing (docs/internals.md).

Framing (44.1 kHz, ``n_fft = 1024``, ``hop = 256``, periodic Hann, no centring):
frame k covers input samples ``[k*hop + hop - n_fft, k*hop + hop)`` with zeros
before sample 0, so ``n`` input samples give ``n // hop`` complete frames.
Synthesis is ``irfft(spectrum) * w``, overlap-add, divided by the constant
``sum_j w[n + j*hop]^2`` (1.5 for ``hop = n_fft / 4``), and the output is
aligned so that output sample n is input sample ``n - (n_fft - 1)``: a mask of
ones reproduces the input delayed by 1023 samples, exactly what the streaming
engine does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fewshot_sep.contract.signal import HOP, LATENCY_SAMPLES, N_BINS, N_FFT, SAMPLE_RATE  # noqa: F401 - the framing


def hann_periodic(n_fft: int = N_FFT, device: torch.device | None = None) -> torch.Tensor:
    """Periodic Hann window ``[n_fft]`` float32."""
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32, device=device)


def overlap_gain(n_fft: int = N_FFT, hop: int = HOP) -> float:
    """The constant ``sum_j w[n + j*hop]^2`` of the squared periodic Hann window."""
    w = hann_periodic(n_fft).double() ** 2
    return float(w.reshape(-1, hop).sum(dim=0).mean())


def num_frames(num_samples: int, hop: int = HOP) -> int:
    """Number of complete frames for ``num_samples`` input samples."""
    return num_samples // hop


def stft(audio: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Complex STFT with the streaming framing.

    Args:
        audio: ``[..., n_samples]`` float32 waveform in [-1, 1].

    Returns:
        ``[..., n_fft/2 + 1, n_samples // hop]`` complex64 spectrum (bins, frames).
    """
    lead = audio.shape[:-1]
    n = audio.shape[-1]
    flat = audio.reshape(-1, n)
    padded = F.pad(flat, (n_fft - hop, 0))
    frames = num_frames(n, hop)
    if frames == 0:
        return torch.zeros(*lead, n_fft // 2 + 1, 0, dtype=torch.complex64, device=audio.device)
    # [N, frames, n_fft] by striding; cut to the complete frames only.
    framed = padded[:, : (frames - 1) * hop + n_fft].unfold(-1, n_fft, hop)
    spec = torch.fft.rfft(framed * hann_periodic(n_fft, audio.device), dim=-1)
    return spec.transpose(-1, -2).reshape(*lead, n_fft // 2 + 1, frames)


def istft(spec: torch.Tensor, num_samples: int, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Inverse of :func:`stft` with the streaming alignment (delay ``n_fft - 1``).

    Args:
        spec: ``[..., n_fft/2 + 1, frames]`` complex spectrum.
        num_samples: length of the returned waveform (normally the input length).

    Returns:
        ``[..., num_samples]`` float32 waveform; sample n corresponds to input
        sample ``n - (n_fft - 1)`` (zeros before the first full output).
    """
    lead = spec.shape[:-2]
    bins, frames = spec.shape[-2:]
    flat = spec.reshape(-1, bins, frames)
    window = hann_periodic(n_fft, spec.device)
    if frames == 0:
        return torch.zeros(*lead, num_samples, dtype=torch.float32, device=spec.device)
    # [N, frames, n_fft] windowed synthesis frames -> fold = overlap-add.
    synth = torch.fft.irfft(flat.transpose(-1, -2), n=n_fft, dim=-1) * window
    ola_len = (frames - 1) * hop + n_fft
    ola = F.fold(
        synth.transpose(-1, -2), output_size=(1, ola_len), kernel_size=(1, n_fft), stride=(1, hop)
    ).reshape(-1, ola_len)
    ola = ola / overlap_gain(n_fft, hop)
    # ola index m is padded-input index m, i.e. input sample m - (n_fft - hop).
    # Output sample n = input sample n - (n_fft - 1)  ->  ola index n - (hop - 1).
    shift = hop - 1
    out = F.pad(ola, (shift, 0))[:, :num_samples]
    if out.shape[-1] < num_samples:
        out = F.pad(out, (0, num_samples - out.shape[-1]))
    return out.reshape(*lead, num_samples)
