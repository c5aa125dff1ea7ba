"""The engine's offline path: fresh streams with large separator calls, channels in threads.

An `OfflineStream` runs audio of any length through fresh pipelines of a
`StreamingSeparator` (``engine.offline_stream()``): ``offline_chunk_frames`` STFT frames
per separator call instead of the live path's one call per block, and, with
per-channel stereo and ``offline_threads >= 2``, each channel through a pipeline and a
single-threaded onnxruntime session of its own, in a thread of its own (the channels are
independent batch items; onnxruntime and numpy's FFT release the GIL). Its output equals
streaming the same input through a freshly reset engine's ``process_block``; parameter
changes on the engine (mode, mix, conditioning) reach open streams as they reach the live
one. The plugin, ``fewshot-sep separate`` and the evaluation process audio this way;
docs/benchmarks.md ("Offline path") has the measurements that chose it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

#: Inputs shorter than this run their channels one after the other in the calling
#: thread: handing a few hundred samples to another thread costs more than it saves.
THREADED_MIN_SAMPLES = 4096


class OfflineStream:
    """One stream through the offline path (see the module docstring).

    Args:
        pipelines: fresh `Pipeline` objects, one for all channels or one per channel
            (each then gets its channel's row of every chunk, and a thread).
        check_block: validates a chunk and returns it as ``[C, n]`` (the engine's check).
    """

    def __init__(self, pipelines: Sequence[Any], check_block: Callable[[np.ndarray], np.ndarray]) -> None:
        self.pipelines = list(pipelines)
        self.step = self.pipelines[0].max_block
        self._check_block = check_block
        self._pool: ThreadPoolExecutor | None = None

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """The stream's next samples: ``chunk [C, n]`` (any n, float) -> new ``[C, n]`` float32 array."""
        chunk = self._check_block(chunk)
        out = np.empty(chunk.shape, dtype=np.float32)
        pipelines = self.pipelines
        if len(pipelines) == 1:
            self._run(pipelines[0], chunk, out)
        elif chunk.shape[1] < THREADED_MIN_SAMPLES:
            for c, pipeline in enumerate(pipelines):
                self._run(pipeline, chunk[c : c + 1], out[c : c + 1])
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(len(pipelines) - 1, thread_name_prefix="fewshot-offline")
            jobs = [self._pool.submit(self._run, p, chunk[c : c + 1], out[c : c + 1])
                    for c, p in enumerate(pipelines) if c]
            self._run(pipelines[0], chunk[:1], out[:1])  # the first channel in this thread
            for job in jobs:
                job.result()
        return out

    def _run(self, pipeline: Any, chunk: np.ndarray, out: np.ndarray) -> None:
        for start in range(0, chunk.shape[1], self.step):
            stop = min(chunk.shape[1], start + self.step)
            pipeline.process(chunk[:, start:stop], out[:, start:stop])

    def close(self) -> None:
        """Stop the stream's threads (a stream that is dropped stops them too)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "OfflineStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
