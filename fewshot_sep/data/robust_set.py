"""The robustness suite's test set: test-only music rendered with a training and a held-out source.

``fewshot-sep data render-robust --out data/robust`` writes a dataset folder in
the renderer's format (``manifest.csv``, ``stems/``, ``works/``; see
`fewshot_sep.data.render`) that only evaluation reads. Every work is rendered
twice, part for part and note for note:

- with ``fluidr3`` (a training soundfont: the "training source" side of each
  single-factor condition), and
- with a held-out source (`fewshot_sep.data.heldout_sources`): FreePats via
  TiMidity++ for melodic parts, FreePats or one of the AVL kits for drums.

Both renders share the work id (so support clips never come from the target's
own piece, whichever source they use); the ``soundfont`` column tells them
apart. Music comes from three streams (the manifest's ``source`` column starts
with the stream's name):

- ``generator``: the training generator's style with fresh seeds (in-domain music);
- ``texture``: the test-only generator `fewshot_sep.data.textures` (held-out music);
- ``music21-heldout``: scores of music21 composers that no training render draws on
  (`HELDOUT_COMPOSERS`; `fewshot_sep.data.corpus.CORPUS_COMPOSERS` is the training list).

Only instruments FreePats can play are used; about half the melodic parts
are unseen instruments. The ``split`` column is ``test`` or ``test_unseen`` by
instrument: the whole folder is test material. Deterministic per seed,
resumable (finished works are kept), parallel.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fewshot_sep.data.gm import is_drum, roles_of, slug
from fewshot_sep.data.plan import WorkSpec, work_seed
from fewshot_sep.data.split import instrument_status
from fewshot_sep.data.synth import SAMPLE_RATE
from fewshot_sep.utils.atomic import write_json_atomic
from fewshot_sep.utils.errors import UserError

ROBUST_FORMAT = 1
TRAINING_SOURCE = "fluidr3"
HELDOUT_COMPOSERS = ("joplin", "schumann_robert", "schubert", "chopin", "handel", "josquin", "weber", "verdi")
"""music21 corpus composers that training renders never draw on (held-out music)."""
MUSIC_STREAMS = ("generator", "texture", "music21-heldout")
DEFAULT_WORKS = {"generator": 20, "texture": 24, "music21-heldout": 16}
WORK_SECONDS = (28.0, 40.0)
TAIL_S = 1.5


class _Picker:
    """Least-used choice among FreePats instruments, half of the melodic picks unseen."""

    def __init__(self, rng: np.random.Generator) -> None:
        from fewshot_sep.data.heldout_sources import freepats_instruments

        self.rng = rng
        usable = [i for i in sorted(freepats_instruments()) if instrument_status(i) != "excluded"]
        self.melodic = [i for i in usable if not is_drum(i)]
        self.kits = [i for i in usable if is_drum(i)]
        self.usage: dict[int, float] = {}

    def pick(self, role: str | None, exclude: set[int]) -> int | None:
        status = "unseen" if self.rng.random() < 0.5 else "seen"
        pool = [i for i in self.melodic if i not in exclude and instrument_status(i) == status
                and (role is None or role in roles_of(i))]
        if not pool:  # no unseen (or seen) instrument for this role: take the other kind
            pool = [i for i in self.melodic if i not in exclude and (role is None or role in roles_of(i))]
        if not pool:
            return None
        scores = [self.usage.get(i, 0.0) + self.rng.uniform(0, 1.5) for i in pool]
        choice = pool[int(np.argmin(scores))]
        self.usage[choice] = self.usage.get(choice, 0.0) + 1.0
        return choice


def plan_robust_works(seed: int, counts: dict[str, int] | None = None) -> list[WorkSpec]:
    """Plan the robust set: `counts` works per music stream (default `DEFAULT_WORKS`).

    Each spec's `extra` names the held-out drum source (``drum_source``); corpus
    specs hold candidate instruments mapped to parts by register at render time.
    """
    counts = dict(DEFAULT_WORKS if counts is None else counts)
    rng = np.random.default_rng([seed, 7919])
    picker = _Picker(rng)
    if counts.get("music21-heldout", 0):
        from fewshot_sep.data.corpus import list_corpus_works

        corpus = list_corpus_works(HELDOUT_COMPOSERS)
    else:
        corpus = []
    rng.shuffle(corpus)
    specs: list[WorkSpec] = []
    for stream in MUSIC_STREAMS:
        for n in range(counts.get(stream, 0)):
            if stream == "music21-heldout":
                if n >= len(corpus):
                    break
                work_id = f"robust-m21:{corpus[n].rsplit('.', 1)[0]}"
            else:
                work_id = f"robust-{stream}{seed}-{n:03d}"
            duration = float(rng.uniform(*WORK_SECONDS))
            used: set[int] = set()
            parts: list[tuple[int, str]] = []
            if stream != "music21-heldout" and rng.random() < 0.5:
                parts.append((picker.kits[0], "drums"))
            roles = {"generator": ["bass", "comp", "melody", "arp"],
                     "texture": ["bass", "pad", "lead", "unison", "arp", "riff"],
                     "music21-heldout": [None] * 5}[stream]
            n_parts = int(rng.integers(2, len(roles) + 1)) if stream != "music21-heldout" else len(roles)
            chosen_roles = roles[:n_parts] if stream == "texture" else list(rng.permutation(roles))[:n_parts]
            for role in chosen_roles:
                need = {"pad": "comp", "riff": None, "lead": "melody", "unison": "melody"}.get(role, role)
                inst = picker.pick(need, used)
                if inst is not None:
                    parts.append((inst, role if role is not None else "corpus"))
                    used.add(inst)
            if stream == "music21-heldout":
                bass = picker.pick("bass", used)
                if bass is not None:
                    parts.append((bass, "bass"))
            drum_source = str(rng.choice(["freepats", "avldrums-blackpearl", "avldrums-redzeppelin"]))
            specs.append(WorkSpec(index=len(specs), work_id=work_id, kind=stream, soundfont="robust",
                                  seed=work_seed(seed, work_id), instruments=parts, duration_s=duration,
                                  corpus_path=corpus[n] if stream == "music21-heldout" else "",
                                  est_seconds=2 * duration * len(parts), extra={"drum_source": drum_source}))
    return specs


def _parts(spec: WorkSpec, cache_dir: Path):
    """(parts, transpositions, source text) of a robust work."""
    from fewshot_sep.data.render import build_parts

    if spec.kind == "texture":
        from fewshot_sep.data.textures import generate_texture_parts

        parts, facts = generate_texture_parts(np.random.default_rng(spec.seed), list(spec.instruments), spec.duration_s)
        text = ":".join(f"{k}={v}" for k, v in facts.items())
        return parts, [0] * len(parts), f"texture:textures:seed={spec.seed}:{text}"
    kind = "corpus" if spec.kind == "music21-heldout" else "gen"
    twin = WorkSpec(**{**spec.to_json(), "kind": kind, "instruments": [tuple(x) for x in spec.instruments]})
    parts, shifts, text = build_parts(twin, cache_dir)
    prefix = "music21-heldout:" if kind == "corpus" else ""
    return parts, shifts, prefix + text


def render_robust_work(spec_json: dict, out_dir: str) -> dict:
    """Render one robust work with the training source and its held-out sources (worker process).

    Returns ``{"work_id", "rows", "seconds"}`` or ``{"work_id", "error"}``; never raises.
    """
    from fewshot_sep.data.gm import bank_preset
    from fewshot_sep.data.heldout_sources import render_heldout
    from fewshot_sep.data.render import manifest_row, stem_pcm, work_dir_name, write_stem_flac, write_work_marker
    from fewshot_sep.data.soundfonts import soundfont_path
    from fewshot_sep.data.synth import render_notes

    spec = WorkSpec(**{**spec_json, "instruments": [tuple(x) for x in spec_json["instruments"]]})
    out = Path(out_dir)
    try:
        parts, shifts, source = _parts(spec, out / "midi_cache")
        num_samples = int(np.ceil((max(p.end_s for p in parts) + TAIL_S) * SAMPLE_RATE))
        folder = work_dir_name(spec.work_id)
        rows = []
        for k, (part, shift) in enumerate(zip(parts, shifts)):
            split = "test_unseen" if instrument_status(part.instrument) == "unseen" else "test"
            heldout = spec.extra["drum_source"] if is_drum(part.instrument) else "freepats"
            for name in (TRAINING_SOURCE, heldout):
                if name == TRAINING_SOURCE:
                    bank, preset = bank_preset(part.instrument)
                    audio = render_notes(soundfont_path(name), bank, preset, part.notes, num_samples)
                else:
                    audio = render_heldout(name, part.instrument, part.notes, num_samples)
                audio, pcm = stem_pcm(audio)
                rel = f"stems/{folder}/{name}/{k:02d}_{slug(part.instrument)}.flac"
                write_stem_flac(out / rel, pcm)
                rows.append(manifest_row(rel, part, name, spec.work_id, source, k, shift, split, audio))
        write_work_marker(out, spec, rows)
        return {"work_id": spec.work_id, "rows": rows, "seconds": num_samples / SAMPLE_RATE * len(rows)}
    except Exception as err:  # logged and skipped by the caller
        return {"work_id": spec.work_id, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}


def render_robust_set(out_dir: str | os.PathLike, seed: int = 0, workers: int = 1,
                      counts: dict[str, int] | None = None, progress: bool = True,
                      log: Callable[[str], None] | None = None) -> Path:
    """Render (or finish) the robust test set into `out_dir`; returns the manifest path.

    `counts`: works per music stream (default `DEFAULT_WORKS`, about 6 h of stems
    in both sources together). Refuses a folder planned with other settings.
    """
    from fewshot_sep.data.heldout_sources import check_heldout_sources
    from fewshot_sep.data.render import check_plan_params, render_planned_works

    check_heldout_sources()
    if workers < 1:
        raise UserError(f"--workers {workers} is invalid: use 1 or more")
    counts = dict(DEFAULT_WORKS if counts is None else counts)
    bad = {k: v for k, v in counts.items() if k not in MUSIC_STREAMS or not isinstance(v, int) or v < 0}
    if bad or not any(counts.values()):
        raise UserError(f"robust works per stream {bad or counts} are invalid: give counts >= 0 for "
                        f"{', '.join(MUSIC_STREAMS)}, at least one positive")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    params: dict[str, Any] = {"robust_format": ROBUST_FORMAT, "seed": seed, "works": counts}
    plan_file = check_plan_params(out, params, "the same --seed/--works")
    specs = plan_robust_works(seed, counts)
    write_json_atomic(plan_file, {"params": params, "works": [s.to_json() for s in specs]}, indent=1)
    return render_planned_works(out, specs, render_robust_work, workers, progress, log)


__all__ = ["render_robust_set", "plan_robust_works", "HELDOUT_COMPOSERS", "MUSIC_STREAMS",
           "TRAINING_SOURCE"]
