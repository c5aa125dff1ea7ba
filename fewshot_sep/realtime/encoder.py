"""Conditioning encoder on onnxruntime: example clips -> embeddings.

The graph (``encoder.onnx``) takes linear magnitudes ``[N, 1, 513, T]`` with the
project's STFT framing and returns ``[N, E]`` embeddings. This module does the
numpy STFT and batching; cutting long recordings into clips of
``model.clip_seconds`` is the caller's job (the presets layer).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from fewshot_sep.realtime.model_files import ModelFiles
from fewshot_sep.realtime.sessions import make_session
from fewshot_sep.realtime.stft import stft
from fewshot_sep.utils.errors import UserError


class ClipEncoder:
    """Embeds mono clips at the model sample rate.

    Args:
        model: a ``ModelFiles``, a model folder path, or None for the default model.
        num_threads: onnxruntime intra-op threads.
    """

    def __init__(self, model: ModelFiles | str | None = None, num_threads: int = 1):
        self.model = ModelFiles.load(model)
        self._session = make_session(self.model.encoder_path, num_threads=num_threads)
        self._input_name = self._session.get_inputs()[0].name
        self.min_clip_samples = int(round(self.model.min_clip_seconds * self.model.sample_rate))

    @property
    def embedding_dim(self) -> int:
        return self.model.embedding_dim

    def embed(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Embeddings ``[N, E]`` float32 of ``N`` clips.

        Args:
            clips: mono float arrays ``[n_samples]`` at ``model.sample_rate`` Hz, each at
                least ``model.min_clip_seconds`` long, values in [-1, 1].

        Raises:
            UserError: no clips, a clip that is not 1-D, too short, or holds NaN/Inf.
        """
        if len(clips) == 0:
            raise UserError("no clips to embed: give at least one example clip")
        prepared = []
        for i, clip in enumerate(clips):
            arr = np.asarray(clip)
            if arr.ndim != 1:
                raise UserError(f"clip {i} has shape {arr.shape}: expected mono [n_samples] (mix channels down first)")
            if not np.issubdtype(arr.dtype, np.floating):
                raise UserError(f"clip {i} has dtype {arr.dtype}: expected float samples in [-1, 1]")
            if arr.size < self.min_clip_samples:
                raise UserError(
                    f"clip {i} is {arr.size / self.model.sample_rate:.2f} s long: each clip needs at least "
                    f"{self.model.min_clip_seconds} s at {self.model.sample_rate} Hz"
                )
            if not np.all(np.isfinite(arr)):
                raise UserError(f"clip {i} contains NaN or Inf samples")
            prepared.append(arr.astype(np.float32, copy=False))
        out = np.zeros((len(prepared), self.model.embedding_dim), dtype=np.float32)
        # Clips of equal length share one batched call (usual case: clip_seconds cuts).
        groups: dict[int, list[int]] = defaultdict(list)
        for i, arr in enumerate(prepared):
            groups[arr.size].append(i)
        for indices in groups.values():
            batch = np.stack([prepared[i] for i in indices])  # [N, n]
            magnitude = np.abs(stft(batch, self.model.n_fft, self.model.hop_length))[:, None]  # [N, 1, F, T]
            (embedding,) = self._session.run(None, {self._input_name: np.ascontiguousarray(magnitude)})
            out[indices] = embedding
        return out
