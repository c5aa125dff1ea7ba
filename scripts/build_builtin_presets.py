#!/usr/bin/env python
"""Build the built-in presets shipped in ``fewshot_sep/assets/presets/`` (run from the repo root).

Each built-in preset is made from example clips this script renders itself:
phrases written by the project's procedural generator (`fewshot_sep.data.generator`)
rendered with FluidSynth (`fewshot_sep.data.synth`) on the training soundfonts
FluidR3_GM and TimGM6mb, for SEEN instruments only (DESIGN.md split; checked).
The clips are embedded with the given model's ONNX encoder, exactly as a user's
`fewshot-sep preset create` would, so a built-in preset is tied to that model id.
Run it again whenever the packaged model changes::

    python scripts/build_builtin_presets.py --model fewshot_sep/assets/model

Re-running is resumable: a preset already built for the same model (and the same
render settings) is kept unless --force. Needs the `train` extra (pyfluidsynth)
and the soundfont packages; the presets themselves need neither at run time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Builtin:
    """One built-in preset: its name and the GM instruments (ids as in `fewshot_sep.data.gm`) it is made of."""

    name: str
    instruments: tuple[int, ...]
    role: str  # generator role: melody, comp, bass, arp or drums


#: The built-in presets. Every instrument here must be SEEN (DESIGN.md "Instrument split").
BUILTINS: tuple[Builtin, ...] = (
    Builtin("piano", (0,), "comp"),
    Builtin("electric-piano", (4,), "comp"),
    Builtin("organ", (16,), "comp"),
    Builtin("acoustic-guitar", (24, 25), "comp"),
    Builtin("electric-bass", (33,), "bass"),
    Builtin("violin", (40,), "melody"),
    Builtin("cello", (42,), "melody"),
    Builtin("strings", (48,), "comp"),
    Builtin("choir", (52,), "comp"),
    Builtin("trumpet", (56,), "melody"),
    Builtin("alto-sax", (65,), "melody"),
    Builtin("clarinet", (71,), "melody"),
    Builtin("flute", (73,), "melody"),
    Builtin("drums", (128,), "drums"),  # bank 128 preset 0: Standard kit
)

SOUNDFONTS = ("fluidr3", "timgm6mb")
RENDER_VERSION = 1  # bump when the rendering below changes, so presets are rebuilt
PEAK = 0.5  # rendered clips are normalised to this peak (about -6 dBFS)


def check_split(builtins: tuple[Builtin, ...] = BUILTINS) -> None:
    """Raise ValueError if any built-in uses an instrument that is not SEEN in training."""
    from fewshot_sep.data.split import instrument_status

    for b in builtins:
        for instrument in b.instruments:
            status = instrument_status(instrument)
            if status != "seen":
                raise ValueError(f"built-in {b.name!r} uses instrument {instrument}, which is {status}: use seen ones")


def render_phrase(instrument: int, role: str, soundfont: str, seconds: float, seed: int) -> np.ndarray:
    """Render one generated phrase of `instrument` -> mono float32 ``[n]`` at 44.1 kHz, peak `PEAK`."""
    from fewshot_sep.data.generator import generate_parts
    from fewshot_sep.data.gm import bank_preset
    from fewshot_sep.data.soundfonts import soundfont_path
    from fewshot_sep.data.synth import SAMPLE_RATE, render_notes

    bank, preset = bank_preset(instrument)
    for attempt in range(20):  # the generator may mute bars; retry until there is sound
        rng = np.random.default_rng([seed, instrument, attempt])
        parts, _ = generate_parts(rng, [(instrument, role)], seconds)
        notes = parts[0].notes
        notes = notes[notes[:, 0] < seconds]
        if len(notes) == 0:
            continue
        audio = render_notes(soundfont_path(soundfont), bank, preset, notes, int((seconds + 1.0) * SAMPLE_RATE))
        peak = float(np.max(np.abs(audio)))
        if peak > 1e-3:
            return (audio * (PEAK / peak)).astype(np.float32)
    raise RuntimeError(f"could not render a sounding phrase of instrument {instrument} on {soundfont}")


def render_examples(b: Builtin, folder: Path, phrases: int, seconds: float, seed: int) -> list[Path]:
    """Render `phrases` phrases per soundfont and instrument of `b` as FLAC files in `folder`."""
    from fewshot_sep.data.synth import SAMPLE_RATE
    from fewshot_sep.utils.audio import write_audio

    paths = []
    for instrument in b.instruments:
        for soundfont in SOUNDFONTS:
            for k in range(phrases):
                audio = render_phrase(instrument, b.role, soundfont, seconds, seed + 1000 * k)
                path = folder / f"{b.name}_{instrument:03d}_{soundfont}_{k}.flac"
                write_audio(path, audio[None, :], SAMPLE_RATE)
                paths.append(path)
    return paths


def _settings(phrases: int, seconds: float, seed: int) -> str:
    return f"render v{RENDER_VERSION}, {phrases} phrase(s) x {seconds:g} s per soundfont, seed {seed}"


def _up_to_date(path: Path, model_id: str, settings: str) -> bool:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return doc.get("model_id") == model_id and settings in doc.get("description", "")


def build(model_dir: Path, output: Path, names: list[str] | None, phrases: int, seconds: float, seed: int,
          force: bool, keep_audio: Path | None, progress: bool = True) -> list[Path]:
    """Build the selected built-in presets into `output`; returns the files written or kept."""
    from tqdm import tqdm

    from fewshot_sep.data.gm import instrument_name
    from fewshot_sep.presets import create_preset, save_preset
    from fewshot_sep.realtime.encoder import ClipEncoder
    from fewshot_sep.realtime.model_files import ModelFiles

    check_split()
    chosen = [b for b in BUILTINS if names is None or b.name in names]
    unknown = sorted(set(names or ()) - {b.name for b in BUILTINS})
    if unknown:
        raise SystemExit(f"unknown built-in(s) {', '.join(unknown)}: choose from {', '.join(b.name for b in BUILTINS)}")
    model = ModelFiles.load(model_dir)
    encoder = ClipEncoder(model)
    settings = _settings(phrases, seconds, seed)
    written = []
    for b in tqdm(chosen, desc="built-in presets", unit="preset", disable=not progress):
        target = output / f"{b.name}.json"
        if not force and _up_to_date(target, model.model_id, settings):
            written.append(target)
            continue
        with tempfile.TemporaryDirectory(prefix=f"builtin-{b.name}-") as tmp:
            folder = Path(keep_audio) / b.name if keep_audio else Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            files = render_examples(b, folder, phrases, seconds, seed)
            label = " + ".join(f"{instrument_name(i)} (GM {i if i < 128 else f'kit {i - 128}'})" for i in b.instruments)
            preset = create_preset(
                b.name, files, model=model, encoder=encoder, strict=True,
                description=f"Built-in: {label}; rendered with FluidR3_GM and TimGM6mb by "
                f"scripts/build_builtin_presets.py ({settings})",
            )
            save_preset(preset, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model folder (required; e.g. fewshot_sep/assets/model)")
    parser.add_argument("--output", type=Path, default=REPO / "fewshot_sep" / "assets" / "presets",
                        help="where to write NAME.json (default: the package's assets/presets)")
    parser.add_argument("--only", default=None, help="comma-separated subset of built-in names")
    parser.add_argument("--phrases", type=int, default=3, help="phrases per soundfont and instrument (default 3)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phrase (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild presets that are already up to date")
    parser.add_argument("--keep-audio", type=Path, default=None, help="keep the rendered clips in this folder")
    parser.add_argument("--list", action="store_true", help="list the built-ins and exit")
    args = parser.parse_args(argv)
    if args.list:
        from fewshot_sep.data.gm import instrument_name

        for b in BUILTINS:
            print(f"{b.name:<16} {', '.join(instrument_name(i) for i in b.instruments)} ({b.role})")
        return 0
    if args.model is None:
        parser.error("--model DIR is required: the model whose encoder makes the presets")
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    from fewshot_sep.utils.errors import UserError

    try:
        written = build(args.model, args.output, names, args.phrases, args.seconds, args.seed, args.force,
                        args.keep_audio)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(written)} built-in preset(s) in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
