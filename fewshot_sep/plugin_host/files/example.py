"""Separate the bundled example mix: what `fewshot-sep demo` needs once a model ships.

``separate_example(out_dir)`` runs a built-in preset over
``fewshot_sep/assets/example/mix.flac`` (isolate and remove) and returns the
written files; the demo command can call it and print where the results are.
``write_examples(folder)`` writes the example as files to try the other commands
on (``fewshot-sep demo --write-examples DIR``, used by the README).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fewshot_sep.utils.errors import UserError

DEFAULT_EXAMPLE_PRESET = "builtin:violin"


def example_mix_path() -> Path:
    """The bundled example mix (a 7 s FluidSynth render: piano, bass, violin, flute, drums)."""
    return Path(__file__).resolve().parents[2] / "assets" / "example" / "mix.flac"


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
    from fewshot_sep.plugin_host.files.processing import safe_file_stem, stream_file
    from fewshot_sep.plugin_host.plugin.separator import FewShotSeparator
    from fewshot_sep.realtime.model_files import ModelFiles

    mix = example_mix_path()
    if not mix.is_file():
        raise UserError(f"the bundled example {mix} is missing: reinstall fewshot-sep")
    model = ModelFiles.load(model)
    isolate = FewShotSeparator(preset, mode="isolate", mix=1.0, model=model)
    remove = FewShotSeparator(preset, mode="remove", mix=1.0, model=model)
    stem = safe_file_stem(isolate.name)
    out_dir = Path(out_dir)
    outputs = [out_dir / f"{stem}-isolated.wav", out_dir / f"{stem}-removed.wav"]
    stream_file([isolate, remove], mix, outputs, progress=progress)
    return outputs


#: Instrument number in the bundled example -> the short name its example takes get.
EXAMPLE_TAKES = {0: "piano", 32: "bass", 40: "violin", 73: "flute", 128: "drums"}


def write_examples(folder: str | os.PathLike, overwrite: bool = False) -> list[Path]:
    """Write the bundled example as files to try every command on; returns the paths written.

    Files (44.1 kHz mono, from ``fewshot_sep/assets/example``):

    - ``song.wav``: the 7 s mix (piano, bass, violin, flute, drums);
    - ``album/01-verse.flac``, ``album/02-chorus.wav``: its two halves, a folder of songs;
    - ``<instrument>-1.wav``, ``<instrument>-2.flac``: two 2.5 s takes of each instrument
      alone (piano, bass, violin, flute, drums) from other pieces, for presets.

    Raises:
        UserError: a file is already there (unless `overwrite`), or the example is missing.
    """
    import json

    from fewshot_sep.utils.audio import read_audio, write_audio

    example = example_mix_path().parent
    if not example.is_dir():
        raise UserError(f"the bundled example {example} is missing: reinstall fewshot-sep")
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--write-examples {str(folder)!r} is a file: give a folder")
    mix, rate = read_audio(example_mix_path())
    half = mix.shape[1] // 2
    plan: list[tuple[Path, Any, int]] = [
        (folder / "song.wav", mix, rate),
        (folder / "album" / "01-verse.flac", mix[:, :half], rate),
        (folder / "album" / "02-chorus.wav", mix[:, half:], rate),
    ]
    for entry in json.loads((example / "example.json").read_text())["instruments"]:
        name = EXAMPLE_TAKES.get(int(entry["instrument"]))
        if name is None:
            continue
        for k, clip in enumerate(entry["clips"][:2], 1):
            audio, clip_rate = read_audio(example / clip)
            plan.append((folder / f"{name}-{k}{'.wav' if k == 1 else '.flac'}", audio, clip_rate))
    existing = [str(p) for p, _, _ in plan if p.exists()]
    if existing and not overwrite:
        raise UserError(f"{len(existing)} example file(s) already exist in {str(folder)!r} (e.g. {existing[0]!r}): "
                        "choose another folder, or pass --overwrite to replace them")
    for path, audio, audio_rate in plan:
        write_audio(path, audio, audio_rate)
    return [p for p, _, _ in plan]
