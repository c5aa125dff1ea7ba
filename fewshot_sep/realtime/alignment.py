"""Latency alignment: one owner for turning a delayed stream back into input-aligned audio.

A processor with ``latency`` samples of delay (``latency_samples``: the engine's, the
plugin's or a chain's) outputs input sample ``k`` at output position ``k + latency``.
Aligned output of an ``n``-sample input is therefore the processed stream of the input
followed by ``latency`` zeros, with its first ``latency`` samples dropped:

- :func:`pad_for_latency` and :func:`trim_latency`: the whole-signal form (evaluation);
- :class:`LatencyTrim`: the streaming form, dropping the start-up samples as they arrive
  (the engine's aligned offline path, ``separate``'s chunked file processing);
- :func:`run_aligned`: a stream run over an input and its zero tail (the plugin's
  ``process(reset=True)``, which chains use for their separators).

Arrays are ``[..., n]`` (time last), float32.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def pad_for_latency(audio: np.ndarray, latency: int) -> np.ndarray:
    """``audio [..., n]`` followed by `latency` zeros: ``[..., n + latency]`` float32."""
    audio = np.asarray(audio, dtype=np.float32)
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, int(latency))]
    return np.pad(audio, pad)


def trim_latency(output: np.ndarray, latency: int, n: int) -> np.ndarray:
    """``output [..., >= n + latency]`` whose sample m is input sample m - latency -> ``[..., n]`` aligned."""
    return np.ascontiguousarray(output[..., int(latency) : int(latency) + n], dtype=np.float32)


class LatencyTrim:
    """Drops a stream's first ``latency`` samples (its start-up silence) as they arrive.

    ``latency`` is given per call (a chain's latent native stages only know theirs once
    output arrives); :meth:`owed` is what is still to drop.
    """

    def __init__(self) -> None:
        self.dropped = 0

    def owed(self, latency: int) -> int:
        return max(0, int(latency) - self.dropped)

    def __call__(self, output: np.ndarray, latency: int) -> np.ndarray:
        """`output` ``[C, m]`` (the next piece of the stream) less what is still owed."""
        drop = min(self.owed(latency), output.shape[-1])
        self.dropped += drop
        return output[..., drop:]


def run_aligned(process: Callable[[np.ndarray], np.ndarray], audio: np.ndarray, latency: int) -> np.ndarray:
    """Run `audio` ``[C, n]`` and then `latency` zeros through a fresh stream `process`
    (``[C, m] -> [C, m]``, stateful); return the ``[C, n]`` output aligned with the input."""
    channels, n = audio.shape
    trim = LatencyTrim()
    head = trim(process(audio), latency)  # stream sample k is input sample k - latency
    out = np.empty((channels, n), dtype=np.float32)
    out[:, : head.shape[1]] = head
    tail = trim(process(np.zeros((channels, latency), dtype=np.float32)), latency)
    out[:, head.shape[1] :] = tail[:, : n - head.shape[1]]
    return out
