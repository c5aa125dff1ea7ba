"""Host-facing layer: the pedalboard-style separator plugin, chains, file processing, live host.

No torch here (numpy, onnxruntime, pedalboard, sounddevice; JACK-Client for ``live --jack``).

- `FewShotSeparator`: ``process(input_array, sample_rate, buffer_size=8192, reset=True)``,
  ``__call__``, ``reset()``, ``latency_samples``; parameters ``preset``, ``mode``, ``mix``.
- `Chain`: native pedalboard plugins and separators in any order, latency-compensated;
  `save_chain` / `load_chain` (JSON, no code).
- `stream_file`: chunked, bounded-memory, atomic file processing.
- `distributed_batch.separate_files`: `fewshot-sep separate` as a function: batches here or
  on a Dask cluster, resumable through a JSON Lines job manifest (Dask imported only then).
- `LiveHost`: the engine live (``fewshot-sep live``), through a sounddevice (PortAudio) stream or as
  a native JACK client (``live --jack``; JACK-Client imported only then); its audio callback
  (`live_audio`), streams (`live_portaudio`, `live_jack`) and console (`live_console`) are apart.

pedalboard 0.9's native containers cannot hold these Python processors; `pedalboard_names` says
why, and their reprs name `Chain` as the fix.
"""

from fewshot_sep.plugin_host.chain import Chain
from fewshot_sep.plugin_host.chain_file import load_chain, save_chain
from fewshot_sep.plugin_host.file_processing import stream_file
from fewshot_sep.plugin_host.live_host import LiveHost, LiveSummary
from fewshot_sep.plugin_host.separator_plugin import FewShotSeparator, InvalidParameter

__all__ = [
    "FewShotSeparator", "InvalidParameter", "Chain", "load_chain", "save_chain", "stream_file",
    "LiveHost", "LiveSummary",
]
