"""The signal both columns agree on: model rate, STFT framing and latency (docs/internals.md).

Framing: periodic Hann window of ``N_FFT`` samples, hop ``HOP``, no centring, no
normalisation; frame k covers input samples ``[k*HOP + HOP - N_FFT, k*HOP + HOP)``
(zeros before sample 0) and has ``N_BINS = N_FFT // 2 + 1`` bins. Synthesis
overlap-adds so that output sample n is input sample ``n - (N_FFT - 1)``; a model
that looks ``L`` frames ahead adds ``L * HOP`` samples. The numpy implementation is
``fewshot_sep.realtime.stft``, the torch one ``fewshot_sep.model.stft``.
"""

from __future__ import annotations

#: The model's sample rate in Hz (training data, STFT, exported graphs).
SAMPLE_RATE = 44100
#: STFT window and FFT length in samples.
N_FFT = 1024
#: STFT hop in samples.
HOP = 256
#: Frequency bins per frame, ``N_FFT // 2 + 1``.
N_BINS = N_FFT // 2 + 1
#: The analysis window, as the model card names it.
WINDOW = "hann_periodic"


def latency_samples(n_fft: int = N_FFT, hop: int = HOP, lookahead_frames: int = 0) -> int:
    """Algorithmic latency in samples at the model rate: ``n_fft - 1 + lookahead_frames * hop``.

    Args:
        n_fft: STFT window length (samples).
        hop: STFT hop (samples).
        lookahead_frames: frames the separator looks ahead (0 for the causal live tier).

    Returns:
        Output sample n is input sample ``n - latency`` (1023 for the causal model).
    """
    if n_fft < 1 or hop < 1 or lookahead_frames < 0:
        raise ValueError(f"latency of n_fft {n_fft}, hop {hop}, lookahead_frames {lookahead_frames}: "
                         "need n_fft >= 1, hop >= 1, lookahead_frames >= 0")
    return int(n_fft) - 1 + int(lookahead_frames) * int(hop)


#: Latency of a causal model with the project's framing (samples at ``SAMPLE_RATE``).
LATENCY_SAMPLES = latency_samples()
