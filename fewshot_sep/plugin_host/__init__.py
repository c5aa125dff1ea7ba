"""Host-facing layer: the separator plugin and chains, file processing, the live host.

No torch here (numpy, onnxruntime, pedalboard, sounddevice; JACK-Client for ``live --jack``).
Three parts, each above the one before:

- `plugin`: `FewShotSeparator` (``process(input_array, sample_rate, buffer_size=8192,
  reset=True)``, ``__call__``, ``reset()``, ``latency_samples``; parameters ``preset``,
  ``mode``, ``mix``) and `Chain` (native pedalboard plugins and separators in any order,
  latency-compensated; `save_chain` / `load_chain`, JSON, no code). pedalboard 0.9's
  native containers cannot hold these Python processors; `plugin.pedalboard_names` says
  why, and their reprs name `Chain` as the fix.
- `files`: `stream_file` (chunked, bounded-memory, atomic file processing) and
  `files.batch.separate_files`, `fewshot-sep separate` as a function: batches here, in
  local processes or on a Dask cluster (Dask imported only then), resumable through a JSON
  Lines job manifest; the bundled example for the demo (`files.example`).
- `live`: `LiveHost`, the engine live (``fewshot-sep live``) through a sounddevice
  (PortAudio) stream or as a native JACK client; its audio callback (`live.audio`), streams
  (`live.portaudio`, `live.jack`) and console (`live.console`) are apart.

The modules' earlier flat names (``fewshot_sep.plugin_host.separator_plugin``,
``.file_processing``, ``.live_host``, ...) still import, as the same module objects, for
one release (`MOVED`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

from fewshot_sep.plugin_host.files.processing import stream_file
from fewshot_sep.plugin_host.live.host import LiveHost, LiveSummary
from fewshot_sep.plugin_host.plugin.chain import Chain
from fewshot_sep.plugin_host.plugin.chain_file import load_chain, save_chain
from fewshot_sep.plugin_host.plugin.separator import FewShotSeparator, InvalidParameter

__all__ = [
    "FewShotSeparator", "InvalidParameter", "Chain", "load_chain", "save_chain", "stream_file",
    "LiveHost", "LiveSummary",
]

#: Earlier module name (under fewshot_sep.plugin_host) -> where the module lives now.
MOVED = {
    "separator_plugin": "plugin.separator",
    "chain": "plugin.chain",
    "chain_file": "plugin.chain_file",
    "layout": "plugin.layout",
    "pedalboard_names": "plugin.pedalboard_names",
    "file_processing": "files.processing",
    "batch_manifest": "files.manifest",
    "batch_outcome": "files.outcome",
    "batch_plan": "files.plan",
    "distributed_batch": "files.batch",
    "local_jobs": "files.local_jobs",
    "output_names": "files.output_names",
    "quiet_part": "files.quiet_part",
    "example": "files.example",
    "live_audio": "live.audio",
    "live_console": "live.console",
    "live_host": "live.host",
    "live_jack": "live.jack",
    "live_portaudio": "live.portaudio",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``fewshot_sep.plugin_host.<earlier name>`` as the module it became (same object)."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102 - importlib protocol
        prefix, _, name = fullname.rpartition(".")
        if prefix != __name__ or name not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):  # noqa: D102
        module = importlib.import_module(f"{__name__}.{MOVED[spec.name.rpartition('.')[2]]}")
        spec.loader_state = module.__spec__  # importlib sets the alias's spec on it: put its own back
        return module

    def exec_module(self, module) -> None:  # noqa: D102 - the module ran when it was imported
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
