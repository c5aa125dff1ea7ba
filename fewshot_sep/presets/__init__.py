"""Instrument presets: build, save, load and find presets made from example clips.

No torch here: embeddings come from the model's ONNX encoder (`fewshot_sep.realtime`).

Public API (docs/internals.md, "Run-time Python APIs"; docs/presets.md for users):

- `Preset` (``.name``, ``.model_id``, ``.conditioning() -> [2E+1] float32``,
  ``.default_mode``, ``.default_mix``) and its JSON form (`format`);
- `create_preset(name, examples, negatives=(), model=None) -> Preset`,
  `add_examples(preset, examples, negatives, model)`;
- `save_preset(preset, path)`, `load_preset(path)`;
- `resolve_preset(ref, model=None)`: ``builtin:NAME``, a library name, or a path;
- the user library (`library`): list, save, rename, delete; import and export by reference (`resolve`).
"""

from fewshot_sep.presets.build import PresetWarning, add_examples, create_preset
from fewshot_sep.presets.examples import ExampleSpec, parse_example
from fewshot_sep.presets.format import FORMAT_VERSION, ClipRecord, EmbeddingSum, Preset, load_preset, save_preset
from fewshot_sep.presets.library import (
    delete_from_library,
    library_dir,
    library_entries,
    rename_in_library,
    save_to_library,
)
from fewshot_sep.presets.names import check_name
from fewshot_sep.presets.resolve import (
    BUILTIN_PREFIX,
    check_model,
    export_preset,
    import_preset,
    list_builtins,
    load_ref,
    resolve_preset,
)

__all__ = [
    "Preset", "ClipRecord", "EmbeddingSum", "ExampleSpec", "PresetWarning", "FORMAT_VERSION", "BUILTIN_PREFIX",
    "create_preset", "add_examples", "save_preset", "load_preset", "resolve_preset", "load_ref", "check_model",
    "list_builtins", "parse_example", "check_name", "library_dir", "library_entries", "save_to_library",
    "rename_in_library", "delete_from_library", "import_preset", "export_preset",
]
