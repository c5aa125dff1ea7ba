"""More than two channels: one stereo or mono `StreamingSeparator` per channel pair.

The engine takes 1 or 2 channels and separates each channel on its own
("per_channel" stereo), so a wider signal is split into pairs (then a mono rest),
each through its own engine, with the same result one wide engine would give. A
separator that reads each channel with the other one (card ``separator.input_planes``
2) reads the pairs in order, (0, 1), (2, 3), ..., as stereo pairs, and a mono rest as
a mono signal: give such a model channels ordered as stereo pairs.
`make_engine` builds the one engine or the group; `MultiChannelEngine` offers the
engine's parameters and block processing over the group.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fewshot_sep.realtime.engine import StreamingSeparator
from fewshot_sep.utils.errors import UserError


def channel_groups(num_channels: int) -> list[tuple[int, int]]:
    """Split channels into the engine's units (it takes 1 or 2): pairs, then a mono rest."""
    if num_channels < 1:
        raise UserError(f"audio needs at least one channel, got {num_channels}")
    return [(start, min(start + 2, num_channels)) for start in range(0, num_channels, 2)]


def make_engine(num_channels: int, **engine_args: Any) -> "StreamingSeparator | MultiChannelEngine":
    """A `StreamingSeparator` for 1 or 2 channels, else a `MultiChannelEngine` of them.

    ``engine_args`` are StreamingSeparator's arguments other than ``num_channels``.
    """
    groups = channel_groups(int(num_channels))
    engines = [StreamingSeparator(num_channels=stop - start, **engine_args) for start, stop in groups]
    return engines[0] if len(engines) == 1 else MultiChannelEngine(engines, groups)


class MultiChannelEngine:
    """More than two channels: one stereo/mono StreamingSeparator per channel pair.

    The engine separates each channel on its own ("per_channel"), so splitting the
    channels over several engines gives the same result as one wide engine would (a
    separator that reads both channels of a pair reads the pairs of the module docstring).
    """

    def __init__(self, engines: list, groups: list[tuple[int, int]]) -> None:
        self.engines = engines
        self.groups = groups
        self.num_channels = groups[-1][1]

    @property
    def latency_samples(self) -> int:
        return int(self.engines[0].latency_samples)

    @property
    def mode(self) -> str:
        return self.engines[0].mode

    @mode.setter
    def mode(self, value: str) -> None:
        for engine in self.engines:
            engine.mode = value

    @property
    def mix(self) -> float:
        return self.engines[0].mix

    @mix.setter
    def mix(self, value: float) -> None:
        for engine in self.engines:
            engine.mix = value

    def set_conditioning(self, vector: np.ndarray, crossfade_seconds: float = 0.05) -> None:
        for engine in self.engines:
            engine.set_conditioning(vector, crossfade_seconds)

    def warm_up(self, block_size: int) -> None:
        for engine in self.engines:
            engine.warm_up(block_size)

    def reset(self) -> None:
        for engine in self.engines:
            engine.reset()

    @property
    def nonfinite_outputs(self) -> int:
        return sum(engine.nonfinite_outputs for engine in self.engines)

    def process_block(self, block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty((self.num_channels, block.shape[-1]), dtype=np.float32)
        for engine, (start, stop) in zip(self.engines, self.groups):
            engine.process_block(block[start:stop], out=out[start:stop])
        return out

    def offline_stream(self) -> "GroupStream":
        """A fresh offline stream of every engine, over its channels (see StreamingSeparator.offline_stream)."""
        return GroupStream([engine.offline_stream() for engine in self.engines], self.groups)


class GroupStream:
    """Offline streams of a MultiChannelEngine's engines, each on its own channels."""

    def __init__(self, streams: list, groups: list[tuple[int, int]]) -> None:
        self.streams = streams
        self.groups = groups

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """``chunk [C, n]`` -> ``[C, n]`` float32, the streams' next samples."""
        out = np.empty((self.groups[-1][1], chunk.shape[-1]), dtype=np.float32)
        for stream, (start, stop) in zip(self.streams, self.groups):
            out[start:stop] = stream.process(chunk[start:stop])
        return out

    def close(self) -> None:
        for stream in self.streams:
            stream.close()
