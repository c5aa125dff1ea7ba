"""Random access to rendered stems by manifest row: from FLAC files or from one int16 array in memory.

Used by the episode sampler (`fewshot_sep.data.episodes`) for training and evaluation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from fewshot_sep.utils.errors import UserError


# ----------------------------------------------------------------------------- stores


class StemStore(Protocol):
    """Random access to stem audio by manifest row index."""

    def read_into(self, stem: int, start: int, out: np.ndarray) -> None:
        """Write samples ``[start, start + len(out))`` of stem `stem` into float32 `out`
        (values in [-1, 1], zeros past the end)."""
        ...


def read_clip(store: StemStore, stem: int, start: int, length: int) -> np.ndarray:
    """Samples ``[start, start + length)`` of a stem as a new float32 ``[length]`` array."""
    out = np.empty(length, np.float32)
    store.read_into(stem, start, out)
    return out


class FlacStore:
    """Reads FLAC slices from disk with soundfile (no caching)."""

    def __init__(self, root: str | os.PathLike, rows: Sequence[dict]) -> None:
        self.root = Path(root)
        self.paths = [str(self.root / r["path"]) for r in rows]

    def read_into(self, stem: int, start: int, out: np.ndarray) -> None:
        import soundfile as sf

        out[:] = 0.0
        with sf.SoundFile(self.paths[stem]) as fh:
            if start < fh.frames:
                fh.seek(start)
                n = min(len(out), fh.frames - start)
                fh.read(n, dtype="float32", always_2d=False, out=out[:n])


class MemoryStore:
    """All needed stems in one contiguous int16 array (2 bytes per sample).

    10 hours of stems take about 3.2 GB. Build it with `MemoryStore.load`;
    only stems with ``wanted[i]`` true are loaded, the others read as zeros.
    """

    def __init__(self, audio: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> None:
        self.audio = audio
        self.offsets = offsets
        self.lengths = lengths

    @classmethod
    def load(cls, root: str | os.PathLike, rows: Sequence[dict], wanted: Sequence[bool] | None = None,
             progress: bool = True, cache: bool = False) -> "MemoryStore":
        """Load stems of `rows` (manifest rows of the dataset in `root`) into memory.

        With `cache`, the int16 array is also saved as ``<root>/memstore/<key>.npy``
        (key = hash of the rows' paths and lengths and `wanted`) and later loads
        memory-map it instead of decoding FLAC (seconds instead of minutes;
        forked worker processes then share the pages).
        """
        import soundfile as sf
        from tqdm import tqdm

        wanted = [True] * len(rows) if wanted is None else [bool(w) for w in wanted]
        lengths = np.array([r["num_samples"] if w else 0 for r, w in zip(rows, wanted)], np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        cache_file = None
        if cache:
            cache_file = cls.cache_path(root, rows, wanted)
            if cache_file.is_file():
                audio = np.load(cache_file, mmap_mode="r", allow_pickle=False)
                if audio.shape == (int(lengths.sum()),) and audio.dtype == np.int16:
                    return cls(audio, offsets, lengths)
        missing = next((r["path"] for r, w in zip(rows, wanted) if w and not (Path(root) / r["path"]).is_file()), None)
        if missing is not None:
            hint = (f" and there is no stem cache {cache_file} for these rows (scripts/device_data.py unpack "
                    f"writes it; give it the run's config)") if cache_file is not None else ""
            raise UserError(f"stem {Path(root) / missing} does not exist{hint}: render the dataset "
                            f"(fewshot-sep data render) or point data.root at it")
        audio = np.zeros(int(lengths.sum()), np.int16)
        for i in tqdm(range(len(rows)), desc="loading stems", unit="stem", disable=not progress):
            if lengths[i]:
                data = sf.read(str(Path(root) / rows[i]["path"]), dtype="int16", always_2d=False)[0]
                n = min(len(data), lengths[i])
                audio[offsets[i]: offsets[i] + n] = data[:n]
        if cache_file is not None:
            from fewshot_sep.utils.atomic import atomic_path

            with atomic_path(cache_file) as tmp:
                np.save(tmp, audio, allow_pickle=False)
        return cls(audio, offsets, lengths)

    @staticmethod
    def cache_path(root: str | os.PathLike, rows: Sequence[dict], wanted: Sequence[bool]) -> Path:
        """``<root>/memstore/<key>.npy``: where `load(..., cache=True)` keeps the int16 array of
        these rows and `wanted` flags (key = hash of the rows' paths and lengths and `wanted`).
        The array holds the wanted stems back to back, in row order, each ``num_samples`` long."""
        import hashlib

        key = hashlib.sha256(repr([(r["path"], r["num_samples"], bool(w))
                                   for r, w in zip(rows, wanted)]).encode()).hexdigest()[:20]
        return Path(root) / "memstore" / f"{key}.npy"

    def read_into(self, stem: int, start: int, out: np.ndarray) -> None:
        n = int(max(0, min(len(out), self.lengths[stem] - start)))
        if n > 0 and start >= 0:
            seg = self.audio[self.offsets[stem] + start: self.offsets[stem] + start + n]
            np.multiply(seg, np.float32(1.0 / 32768.0), out=out[:n])
        else:
            n = 0
        if n < len(out):
            out[n:] = 0.0
