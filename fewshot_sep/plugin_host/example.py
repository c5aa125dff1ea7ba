"""Separate the bundled example mix: what `fewshot-sep demo` needs once a model ships.

``separate_example(out_dir)`` runs a built-in preset over
``fewshot_sep/assets/example/mix.flac`` (isolate and remove) and returns the
written files; the demo command can call it and print where the results are.
"""

from __future__ import annotations

import os
from pathlib import Path

from fewshot_sep.utils.errors import UserError

DEFAULT_EXAMPLE_PRESET = "builtin:violin"


def example_mix_path() -> Path:
    """The bundled example mix (a 7 s FluidSynth render: piano, bass, violin, flute, drums)."""
    return Path(__file__).resolve().parent.parent / "assets" / "example" / "mix.flac"


def separate_example(
    out_dir: str | os.PathLike,
    preset: str = DEFAULT_EXAMPLE_PRESET,
    model=None,
    progress: bool | None = None,
) -> list[Path]:
    """Isolate and remove `preset`'s instrument from the example mix.

    Returns:
        ``[out_dir/<preset>-isolated.wav, out_dir/<preset>-removed.wav]``.

    Raises:
        UserError: the example, the model or the preset is missing.
    """
    from fewshot_sep.plugin_host.file_processing import safe_file_stem, stream_file
    from fewshot_sep.plugin_host.separator_plugin import FewShotSeparator, load_model

    mix = example_mix_path()
    if not mix.is_file():
        raise UserError(f"the bundled example {mix} is missing: reinstall fewshot-sep")
    model = load_model(model)
    isolate = FewShotSeparator(preset, mode="isolate", mix=1.0, model=model)
    remove = FewShotSeparator(preset, mode="remove", mix=1.0, model=model)
    stem = safe_file_stem(isolate.name)
    out_dir = Path(out_dir)
    outputs = [out_dir / f"{stem}-isolated.wav", out_dir / f"{stem}-removed.wav"]
    stream_file([isolate, remove], mix, outputs, progress=progress)
    return outputs
