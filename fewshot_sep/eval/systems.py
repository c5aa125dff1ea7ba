"""The systems an evaluation compares, behind one small interface.

Few-shot systems embed example clips and separate a mixture given a
conditioning vector ``[D]`` (docs/internals.md):

- ``fewshot-onnx``: the exported model through the run-time engine,
  ``fewshot_sep.realtime`` ``StreamingSeparator.process_offline`` (what
  ``fewshot-sep separate`` runs);
- ``fewshot-stream``: the same engine fed block by block (``process_block``,
  default 256 samples), as a live host would;
- ``fewshot-torch``: the training checkpoint in torch (numpy STFT, torch
  separator and encoder), which shows what export and the engine cost.

Reference systems need no examples:

- ``mixture``: the mixture itself (SI-SDRi 0 by definition);
- ``oracle``: the ideal ratio mask (:mod:`fewshot_sep.eval.oracle`);
- ``onehot``: the class-conditioned baseline checkpoint, given the target's
  class, or for unseen targets the nearest seen class (:mod:`fewshot_sep.eval.onehot_rule`);
- ``nmf``: semi-supervised NMF with a dictionary learned from the same example
  clips (:mod:`fewshot_sep.eval.nmf`; no training; scored in the reference condition only,
  k = 5 without negatives);
- ``fewshot-nmf``: the mean of the ``fewshot-onnx`` and ``nmf`` masks (the mean of their
  estimates), in the reference condition: does the examples' own spectrum add to the network?

Every ``separate`` returns an estimate ``[n]`` float32 aligned sample for
sample with the mixture ``[n]``: model latency is compensated by padding the
input with ``latency`` zeros and dropping the first ``latency`` output samples
(:mod:`fewshot_sep.realtime.alignment`, as the plugin and ``separate`` do).
Construct systems inside worker processes (they hold ONNX / torch sessions);
each uses one thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from fewshot_sep.contract.signal import LATENCY_SAMPLES, latency_samples
from fewshot_sep.eval.onehot_rule import onehot_class_for
from fewshot_sep.eval.oracle import ideal_ratio_mask_estimate
from fewshot_sep.realtime.alignment import pad_for_latency, trim_latency

FEWSHOT_SYSTEMS = ("fewshot-onnx", "fewshot-stream", "fewshot-torch")
REFERENCE_SYSTEMS = ("mixture", "oracle", "onehot", "nmf")
BLEND_SYSTEMS = ("fewshot-nmf",)
ALL_SYSTEMS = FEWSHOT_SYSTEMS + REFERENCE_SYSTEMS + BLEND_SYSTEMS
EXAMPLE_SYSTEMS = FEWSHOT_SYSTEMS + ("nmf",) + BLEND_SYSTEMS
"""Systems that use the example clips: scored per (k, negatives) condition."""
DEFAULT_BLOCK_SIZE = 256


class OnnxFewShot:
    """The exported model via ``fewshot_sep.realtime`` (offline or block-wise streaming).

    Args:
        model_dir: model folder (None = packaged model / ``$FEWSHOT_SEP_MODEL``).
        block_size: None = ``process_offline``; an int = ``process_block`` with blocks of that size.
    """

    def __init__(self, model_dir: str | Path | None, block_size: int | None = None) -> None:
        from fewshot_sep.realtime.encoder import ClipEncoder
        from fewshot_sep.realtime.engine import StreamingSeparator
        from fewshot_sep.realtime.model_files import ModelFiles

        self.model = ModelFiles.load(model_dir)
        self.encoder = ClipEncoder(self.model, num_threads=1)
        self.block_size = block_size
        self.sample_rate = self.model.sample_rate
        zeros = np.zeros(self.model.conditioning_dim, dtype=np.float32)
        self.engine = StreamingSeparator(self.model, sample_rate=self.sample_rate, num_channels=1,
                                         conditioning=zeros, offline_threads=1)
        self.latency = int(self.engine.latency_samples)
        # a separator that reads each channel with the other one gets stereo mixtures whole
        self.stereo_input = self.model.input_planes == 2
        self._stereo_engine = None

    def embed(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Per-clip embeddings ``[N, E]`` of mono clips ``[n_i]`` at the model rate."""
        return self.encoder.embed(list(clips))

    def separate(self, mixture: np.ndarray, conditioning: np.ndarray) -> np.ndarray:
        """Estimate ``[n]`` of the conditioned instrument in `mixture` ``[n]``."""
        return self._run(self.engine, np.asarray(mixture, np.float32)[None], conditioning)[0]

    def separate_stereo(self, mixture: np.ndarray, conditioning: np.ndarray) -> np.ndarray:
        """Estimate ``[2, n]`` from a stereo `mixture` ``[2, n]`` through a 2-channel engine (a
        2-plane separator reads each channel with the other one)."""
        if self._stereo_engine is None:
            from fewshot_sep.realtime.engine import StreamingSeparator

            self._stereo_engine = StreamingSeparator(self.model, sample_rate=self.sample_rate, num_channels=2,
                                                     conditioning=np.zeros(self.model.conditioning_dim, np.float32),
                                                     offline_threads=1)
        return self._run(self._stereo_engine, np.asarray(mixture, np.float32), conditioning)

    def _run(self, engine, mixture: np.ndarray, conditioning: np.ndarray) -> np.ndarray:
        """``mixture [C, n]`` through `engine` from a reset, latency compensated: ``[C, n]``."""
        engine.set_conditioning(np.asarray(conditioning, np.float32), crossfade_seconds=0.0)
        engine.reset()
        n = mixture.shape[-1]
        padded = pad_for_latency(mixture, self.latency)
        if self.block_size is None:
            out = engine.process_offline(padded)
        else:
            # what a live host does: fixed-size blocks through the stateful engine
            out = np.empty_like(padded)
            step = self.block_size
            for start in range(0, padded.shape[1], step):
                engine.process_block(padded[:, start : start + step], out=out[:, start : start + step])
        return trim_latency(out, self.latency, n)


class _TorchCheckpoint:
    """Shared loading for torch checkpoints (one thread, eval mode, no grad)."""

    def __init__(self, run: str | Path) -> None:
        import torch

        from fewshot_sep.runs.checkpoint import load_checkpoint

        torch.set_num_threads(1)
        self.torch = torch
        self.model, self.config = load_checkpoint(run)
        self.model.eval()
        # A look-ahead model's masks are realigned with their frames in ``_pass``, so its output
        # is late by the framing alone; the padding still covers the look-ahead.
        self.lookahead_frames = int(getattr(self.model.separator, "lookahead_frames", 0))
        self.latency = LATENCY_SAMPLES
        # a stereo_input separator reads each channel of a stereo mix with the other one
        self.stereo_input = bool(getattr(self.model.separator, "stereo_input", False))

    def _separate(self, mixture: np.ndarray, conditioning, states: tuple = ()) -> np.ndarray:
        return self._pass(mixture, conditioning, states)[0]

    def _pass(self, mixture: np.ndarray, conditioning, states: tuple = (),
              other: np.ndarray | None = None) -> tuple[np.ndarray, tuple]:
        """One pass over ``mixture [n]`` from ``states`` (the separator's initial states when
        empty): the delay-compensated estimate ``[n]`` and the states the pass ended in.
        ``other [n]``: the other channel of a stereo mix, read by a ``stereo_input`` separator."""
        from fewshot_sep.realtime.stft import istft, stft

        torch = self.torch
        n = mixture.shape[-1]
        lookahead = self.lookahead_frames
        padded = pad_for_latency(mixture, latency_samples(lookahead_frames=lookahead))
        spec = stft(padded)  # [F, T] complex64
        with torch.inference_mode():
            magnitude = torch.from_numpy(np.abs(spec)[None, None].copy())
            if self.stereo_input and other is not None:
                other_spec = stft(pad_for_latency(other, latency_samples(lookahead_frames=lookahead)))
                magnitude = torch.cat([magnitude, torch.from_numpy(np.abs(other_spec)[None, None].copy())], dim=1)
            mask, *final_states = self.model.separator(magnitude, conditioning, *states)
        mask = mask[0, 0].numpy()
        if lookahead:  # output frame t is the mask of frame t - L; the last L frames are padding
            mask = np.concatenate([mask[:, lookahead:], np.zeros_like(mask[:, :lookahead])], axis=1)
        out = istft(spec * mask, padded.size)
        return trim_latency(out, self.latency, n), tuple(final_states)


class TorchFewShot(_TorchCheckpoint):
    """The few-shot training checkpoint in torch (same STFT and synthesis as the engine)."""

    def embed(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Per-clip embeddings ``[N, E]`` (clips embedded one by one: lengths may differ)."""
        from fewshot_sep.realtime.stft import stft

        torch = self.torch
        out = []
        with torch.inference_mode():
            for clip in clips:
                magnitude = torch.from_numpy(np.abs(stft(np.asarray(clip, np.float32)))[None, None].copy())
                out.append(self.model.encoder(magnitude)[0].numpy())
        return np.stack(out).astype(np.float32)

    def separate(self, mixture: np.ndarray, conditioning: np.ndarray, states: tuple = ()) -> np.ndarray:
        """Estimate ``[n]`` of the conditioned instrument in `mixture` ``[n]``, from the
        separator's initial states or from ``states`` (torch tensors of the separator's state shapes)."""
        return self._separate(mixture, self._vector(conditioning), states)

    def separate_stereo(self, mixture: np.ndarray, conditioning: np.ndarray) -> np.ndarray:
        """Estimate ``[2, n]`` from a stereo `mixture` ``[2, n]``: each channel read with the
        other one (a ``stereo_input`` separator; any other reads each channel alone)."""
        vector = self._vector(conditioning)
        return np.stack([self._pass(mixture[c], vector, (), mixture[1 - c])[0] for c in range(2)])

    def _vector(self, conditioning: np.ndarray):
        return self.torch.from_numpy(np.asarray(conditioning, np.float32)[None].copy())


class TorchOneHot(_TorchCheckpoint):
    """The class-conditioned baseline (Meseguer-Brocal & Peeters 2019 style) checkpoint."""

    def trained_classes(self) -> list[int] | None:
        """Instrument labels the baseline was trained on (``model.classes`` of its config), if recorded."""
        classes = self.config.get("model", self.config).get("classes")
        return [int(c) for c in classes] if classes else None

    def class_id(self, label: int) -> int:
        """Row of the class table for instrument `label`: its index in ``model.classes``
        when the config lists the classes, else the label itself (table indexed by label)."""
        classes = self.trained_classes()
        return classes.index(label) if classes else int(label)

    def separate_instrument(self, mixture: np.ndarray, instrument: int) -> tuple[np.ndarray, int]:
        """Estimate ``[n]`` for target `instrument`; also returns the class label used
        (`onehot_class_for`, restricted to the trained classes when they are recorded)."""
        label = onehot_class_for(instrument, self.trained_classes())
        class_id = self.torch.tensor([self.class_id(label)], dtype=self.torch.long)
        with self.torch.inference_mode():
            cond = self.model.conditioning_for_class(class_id)
        return self._separate(mixture, cond), label


def mixture_estimate(mixture: np.ndarray) -> np.ndarray:
    """The mixture as its own estimate (lower reference)."""
    return np.asarray(mixture, np.float32)


def oracle_estimate(mixture: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Ideal-ratio-mask estimate (upper reference), aligned with the mixture."""
    return ideal_ratio_mask_estimate(mixture, target)
