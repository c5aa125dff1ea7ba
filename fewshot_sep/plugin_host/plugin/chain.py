"""`Chain`: native pedalboard plugins and few-shot separators, in any order.

pedalboard 0.9 cannot hold Python plugins inside a native ``pedalboard.Pedalboard``,
so a Chain splits its plugin list into *stages*: each run of consecutive native
plugins becomes one native ``Pedalboard`` (one C++ call per buffer), and each
:class:`FewShotSeparator` is a stage of its own.

``process(input_array, sample_rate, buffer_size=8192, reset=True)`` has the same
contract as :class:`FewShotSeparator` (and pedalboard):

- ``reset=True``: every stage is reset and run latency-compensated, so the output
  has the input's length and is aligned with it (the total latency is compensated).
- ``reset=False``: streaming; each call returns as many samples as it was given,
  delayed by :attr:`Chain.latency_samples` (the sum of the stages' latencies).
  A native stage with latency (MP3Compressor, GSMFullRateCompressor, Resample)
  returns fewer samples at the start of a stream; its output is re-timed to a
  constant delay, found when its first output arrives. Resample then streams
  exactly; the lossy codecs (MP3, GSM) work on their own frames, so their
  streamed output differs slightly from ``reset=True`` (GSM's delay even drifts by a
  few samples: counted in :attr:`Chain.dropouts`). ``PitchShift`` outputs nothing
  when streamed in pedalboard 0.9, so a chain holding it refuses ``reset=False``.

Chains are saved as JSON (see :mod:`fewshot_sep.plugin_host.plugin.chain_file`).
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator, Sequence, Union

import numpy as np
import pedalboard

from fewshot_sep.plugin_host.plugin.layout import LayoutTracker, from_channels_first
from fewshot_sep.plugin_host.plugin.pedalboard_names import CHAIN_HINT, PedalboardNames
from fewshot_sep.plugin_host.plugin.separator import FewShotSeparator, InvalidParameter

ChainItem = Union[pedalboard.Plugin, FewShotSeparator]

#: Native plugins that output nothing with reset=False in pedalboard 0.9 (they buffer
#: everything until a reset=True call), so they cannot run in a stream.
UNSTREAMABLE = (pedalboard.PitchShift,)


def _flatten(plugins: Iterable[pedalboard.Plugin]) -> Iterator[pedalboard.Plugin]:
    for plugin in plugins:
        if isinstance(plugin, pedalboard.Pedalboard):
            yield from _flatten(list(plugin))
        else:
            yield plugin


class _NativeStage:
    """Consecutive native plugins run as one native ``Pedalboard``.

    In streaming mode the output is re-timed to a constant delay: pedalboard's latent
    plugins return fewer samples than given (right-aligned) until their latency is
    filled; the delay is ``samples in - samples out`` when the first output arrives.
    """

    def __init__(self, plugins: Sequence[pedalboard.Plugin]) -> None:
        self.board = pedalboard.Pedalboard(list(plugins))
        self.unstreamable = [type(p).__name__ for p in _flatten(plugins) if isinstance(p, UNSTREAMABLE)]
        self.reset()

    def reset(self) -> None:
        self.board.reset()
        self._samples_in = 0
        self._delay: int | None = None
        self._pending_zeros = 0  # start-up silence still to emit once the delay is known
        self._queue: deque[np.ndarray] = deque()
        self._queued = 0
        self._block_limit: int | None = None
        #: samples of silence inserted because the plugin's delay grew mid-stream
        self.dropouts = 0

    @property
    def latency_samples(self) -> int:
        """Constant delay of this stage (while unknown: every sample fed so far)."""
        return self._samples_in if self._delay is None else self._delay

    def process_aligned(self, audio: np.ndarray, sample_rate: float, buffer_size: int) -> np.ndarray:
        return self.board.process(audio, sample_rate, buffer_size=buffer_size, reset=True)

    def _run_board(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        """Stream `audio` through the board in calls no longer than the stream's first one.

        pedalboard re-prepares (and so resets) its plugins when a call is longer than any
        before it, which would glitch a stream; near-equal pieces also avoid tiny ones
        (a ``[2, 1]`` block would be read as ``[samples, channels]``).
        """
        n, limit = audio.shape[1], self._block_limit
        if n <= limit:
            return self.board.process(audio, sample_rate, buffer_size=limit, reset=False)
        pieces = -(-n // limit)
        bounds = np.linspace(0, n, pieces + 1).round().astype(int)
        outs = [
            self.board.process(audio[:, a:b], sample_rate, buffer_size=limit, reset=False)
            for a, b in zip(bounds[:-1], bounds[1:])
        ]
        return np.concatenate(outs, axis=1)

    def process_stream(self, audio: np.ndarray, sample_rate: float, buffer_size: int) -> np.ndarray:
        channels, n = audio.shape
        if self.unstreamable:
            raise InvalidParameter(
                f"{', '.join(self.unstreamable)} cannot be streamed (pedalboard returns no audio for it "
                "with reset=False), so it works in Chain.process(..., reset=True) on audio in memory but "
                "not in `separate --chain` or live: render it separately"
            )
        if n == 0:
            return audio
        if self._block_limit is None:
            self._block_limit = min(n, buffer_size)
        result = self._run_board(audio, sample_rate)
        self._samples_in += n
        if result.shape[1] == n and self._delay is None and not self._queue:
            self._delay = 0  # a zero-latency board: the common case, no copying
            return result
        if self._delay == 0 and result.shape[1] == n and not self._queue:
            return result
        if result.shape[1]:
            if self._delay is None:
                # First output ever (right-aligned in this buffer): everything emitted
                # before this call was silence, and we still owe the rest of the delay.
                self._delay = self._samples_in - result.shape[1]
                self._pending_zeros = self._delay - (self._samples_in - n)
            self._queue.append(np.asarray(result, dtype=np.float32))
            self._queued += result.shape[1]
        out = np.zeros((channels, n), dtype=np.float32)
        if self._delay is None:
            return out
        filled = min(self._pending_zeros, n)
        self._pending_zeros -= filled
        while filled < n and self._queue:
            head = self._queue[0]
            take = min(head.shape[1], n - filled)
            out[:, filled : filled + take] = head[:, :take]
            filled += take
            self._queued -= take
            if take == head.shape[1]:
                self._queue.popleft()
            else:
                self._queue[0] = head[:, take:]
        if filled < n:
            self.dropouts += n - filled
        return out


class _SeparatorStage:
    def __init__(self, separator: FewShotSeparator) -> None:
        self.separator = separator

    def reset(self) -> None:
        self.separator.reset()

    @property
    def latency_samples(self) -> int:
        return self.separator.latency_samples

    def process_aligned(self, audio: np.ndarray, sample_rate: float, buffer_size: int) -> np.ndarray:
        return self.separator.process_channels_first(audio, sample_rate, buffer_size, reset=True)

    def process_stream(self, audio: np.ndarray, sample_rate: float, buffer_size: int) -> np.ndarray:
        return self.separator.process_channels_first(audio, sample_rate, buffer_size, reset=False)


def check_chain_item(item: object) -> ChainItem:
    """Return `item` if a Chain can hold it, else raise InvalidParameter."""
    if isinstance(item, (FewShotSeparator, pedalboard.Plugin)):
        return item  # type: ignore[return-value]
    raise InvalidParameter(
        f"a Chain holds pedalboard plugins and FewShotSeparator objects, got {item!r} "
        f"({type(item).__name__}): pass a list of them, e.g. Chain([pedalboard.Gain(-3), FewShotSeparator(...)])"
    )


class Chain(PedalboardNames):
    """An ordered list of native pedalboard plugins and FewShotSeparators.

    Args:
        plugins: the plugins in processing order. Native plugins (including nested
            ``pedalboard.Pedalboard`` objects) and :class:`FewShotSeparator` objects
            may be mixed freely.

    The list can be edited like a Python list (``append``, ``insert``, indexing,
    ``del``); stages are rebuilt on the next ``process`` call after an edit, which
    also restarts a stream. It is what ``pedalboard.Pedalboard`` is for native plugins
    (which cannot hold a FewShotSeparator), with pedalboard's names
    ``reported_latency_samples``, ``is_effect`` and ``is_instrument``.
    """

    def __init__(self, plugins: Iterable[ChainItem] = ()) -> None:
        if isinstance(plugins, (str, bytes)) or not hasattr(plugins, "__iter__"):
            raise InvalidParameter(
                f"Chain takes a list of plugins, got {plugins!r} ({type(plugins).__name__}): "
                "pass e.g. Chain([pedalboard.Gain(-3), FewShotSeparator(...)])"
            )
        self._plugins: list[ChainItem] = [check_chain_item(p) for p in plugins]
        self._stages: list[_NativeStage | _SeparatorStage] | None = None
        self._stage_key: tuple[int, ...] = ()
        self._layout = LayoutTracker()

    # ------------------------------------------------------------ list behaviour
    @property
    def plugins(self) -> list[ChainItem]:
        """A copy of the plugin list, in processing order."""
        return list(self._plugins)

    def append(self, plugin: ChainItem) -> None:
        self._plugins.append(check_chain_item(plugin))

    def insert(self, index: int, plugin: ChainItem) -> None:
        self._plugins.insert(index, check_chain_item(plugin))

    def remove(self, plugin: ChainItem) -> None:
        self._plugins.remove(plugin)

    def __getitem__(self, index: int) -> ChainItem:
        return self._plugins[index]

    def __setitem__(self, index: int, plugin: ChainItem) -> None:
        self._plugins[index] = check_chain_item(plugin)

    def __delitem__(self, index: int) -> None:
        del self._plugins[index]

    def __len__(self) -> int:
        return len(self._plugins)

    def __iter__(self) -> Iterator[ChainItem]:
        return iter(list(self._plugins))

    def __repr__(self) -> str:
        inner = ", ".join(p.label() if isinstance(p, FewShotSeparator) else repr(p) for p in self._plugins)
        try:
            latency = f" latency_samples={self.latency_samples}"
        except InvalidParameter:  # e.g. one plugin twice: process() says so, a repr must not raise
            latency = ""
        return f"<fewshot_sep.Chain [{inner}]{latency}; {CHAIN_HINT}>"

    @property
    def separators(self) -> list[FewShotSeparator]:
        """The FewShotSeparators in the chain (not inside nested native boards)."""
        return [p for p in self._plugins if isinstance(p, FewShotSeparator)]

    # -------------------------------------------------------------------- stages
    def _current_stages(self) -> list[_NativeStage | _SeparatorStage]:
        key = tuple(id(p) for p in self._plugins)
        if self._stages is None or key != self._stage_key:
            if len(set(key)) != len(key):
                raise InvalidParameter(
                    "the same plugin object appears twice in the chain: create a separate "
                    "instance for each position"
                )
            stages: list[_NativeStage | _SeparatorStage] = []
            natives: list[pedalboard.Plugin] = []
            for plugin in self._plugins:
                if isinstance(plugin, FewShotSeparator):
                    if natives:
                        stages.append(_NativeStage(natives))
                        natives = []
                    stages.append(_SeparatorStage(plugin))
                else:
                    natives.append(plugin)
            if natives:
                stages.append(_NativeStage(natives))
            self._stages, self._stage_key = stages, key
        return self._stages

    @property
    def num_native_boards(self) -> int:
        """How many native ``Pedalboard`` calls one buffer takes (consecutive natives merged)."""
        return sum(isinstance(s, _NativeStage) for s in self._current_stages())

    @property
    def latency_samples(self) -> int:
        """Total streaming delay of the chain (sum over stages) at the current stream's rate.

        For a native stage whose latency is not known yet (no output so far) this counts
        every sample fed to it, so it is never an underestimate of the silence emitted.
        """
        return sum(stage.latency_samples for stage in self._current_stages())

    @property
    def dropouts(self) -> int:
        """Samples of silence inserted by native stages whose delay grew mid-stream."""
        return sum(s.dropouts for s in self._current_stages() if isinstance(s, _NativeStage))

    def reset(self) -> None:
        """Clear every stage's stream state and the remembered channel layout."""
        for stage in self._current_stages():
            stage.reset()
        self._layout.reset()

    # ------------------------------------------------------------------- process
    def process(
        self,
        input_array: np.ndarray,
        sample_rate: float,
        buffer_size: int = 8192,
        reset: bool = True,
    ) -> np.ndarray:
        """Run the chain over `input_array`; same contract as FewShotSeparator.process.

        Returns:
            float32 array in the input's shape and layout.
        """
        array = np.asarray(input_array)
        audio, layout = self._layout.to_channels_first(array)
        out = self.process_channels_first(audio, sample_rate, buffer_size, reset)
        return from_channels_first(out, layout)

    __call__ = process

    def process_channels_first(
        self, audio: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
    ) -> np.ndarray:
        """`process` for ``[channels, n]`` float32 input with no layout detection."""
        buffer_size = int(buffer_size)
        if buffer_size < 1:
            raise InvalidParameter(f"buffer_size {buffer_size} is invalid: use a whole number >= 1")
        stages = self._current_stages()
        if audio.shape[1] == 0:
            return np.ascontiguousarray(audio, dtype=np.float32)
        if reset:
            for stage in stages:
                stage.reset()
            for stage in stages:
                audio = stage.process_aligned(audio, sample_rate, buffer_size)
            return np.ascontiguousarray(audio, dtype=np.float32)
        for stage in stages:
            audio = np.ascontiguousarray(stage.process_stream(audio, sample_rate, buffer_size))
        return np.ascontiguousarray(audio, dtype=np.float32)
