"""Multi-part works from music21's bundled corpus, cached as MIDI files.

music21 parsing is slow (0.2-3 s per work), so each parsed work is written once
to ``<cache_dir>/<work>.mid`` and read back with pretty_midi afterwards. A work
that fails to parse is recorded in ``<work>.failed`` (the error text) and
skipped on later runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fewshot_sep.utils.atomic import atomic_path, write_text_atomic

# Composers whose corpus folders hold multi-part (choral / chamber) scores.
CORPUS_COMPOSERS = ("bach", "palestrina", "monteverdi", "haydn", "mozart", "beethoven", "trecento", "corelli", "ciconia", "luca")
_SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn")

#: Corpus scores that never yield usable parts, failed at once instead of after the work it
#: takes to find out: music21 spends 10 to 15 minutes of a 2-core machine's worker writing
#: beethoven/opus18no4's MIDI, which pretty_midi then refuses as corrupt ("MIDI file has a
#: largest tick of ..."). The work is skipped either way, so the rendered data are the same.
KNOWN_UNUSABLE = {
    "beethoven/opus18no4.mxl": "music21 writes a MIDI file that pretty_midi refuses (largest tick)",
}


def list_corpus_works(composers: tuple[str, ...] = CORPUS_COMPOSERS) -> list[str]:
    """Sorted corpus-relative paths (e.g. ``"bach/bwv66.6.mxl"``) of candidate multi-part works
    of `composers` (default: the training list)."""
    from music21 import corpus

    paths: set[str] = set()
    for composer in composers:
        for path in corpus.getComposer(composer):
            path = str(path)
            if not path.endswith(_SCORE_SUFFIXES):
                continue
            rel = path.split(os.sep + "corpus" + os.sep, 1)[-1]
            paths.add(rel.replace(os.sep, "/"))
    return sorted(paths)


def corpus_work_id(rel_path: str) -> str:
    """Work id of a corpus score, e.g. ``"m21:bach/bwv66.6"`` (stable across runs)."""
    stem = rel_path.rsplit(".", 1)[0]
    return f"m21:{stem}"


def _cache_name(rel_path: str) -> str:
    return rel_path.rsplit(".", 1)[0].replace("/", "__")


def load_corpus_parts(rel_path: str, cache_dir: Path, max_seconds: float) -> list[np.ndarray]:
    """Notes of each part of corpus score `rel_path`, cropped to `max_seconds`.

    Returns one float64 array ``[n_notes, 4]`` (start s, end s, pitch, velocity)
    per non-empty part, in score order. Raises `RuntimeError` if the score
    cannot be parsed (also on later calls, from the ``.failed`` marker).
    """
    import pretty_midi

    if rel_path in KNOWN_UNUSABLE:
        raise RuntimeError(f"{rel_path}: {KNOWN_UNUSABLE[rel_path]} (known, skipped without parsing)")
    cache_dir = Path(cache_dir)
    midi_path = cache_dir / (_cache_name(rel_path) + ".mid")
    failed_path = cache_dir / (_cache_name(rel_path) + ".failed")
    if failed_path.exists():
        raise RuntimeError(f"{rel_path}: {failed_path.read_text().strip()} (cached failure)")
    if not midi_path.exists():
        try:
            from music21 import corpus, stream

            score = corpus.parse(rel_path)
            if isinstance(score, stream.Opus):
                score = score.scores[0]
            with atomic_path(midi_path) as tmp:
                score.write("midi", fp=str(tmp))
        except Exception as err:  # music21 raises many types; record and skip the work
            write_text_atomic(failed_path, f"{type(err).__name__}: {err}\n")
            raise RuntimeError(f"{rel_path}: {type(err).__name__}: {err}") from err
    pm = pretty_midi.PrettyMIDI(str(midi_path))
    parts = []
    for inst in pm.instruments:
        if inst.is_drum or not inst.notes:
            continue
        notes = np.array([(n.start, n.end, n.pitch, n.velocity) for n in inst.notes], dtype=np.float64)
        notes = notes[notes[:, 0] < max_seconds]
        notes[:, 1] = np.minimum(notes[:, 1], max_seconds)
        notes = notes[notes[:, 1] - notes[:, 0] > 0.02]
        if len(notes) >= 4:
            parts.append(notes[np.lexsort((notes[:, 2], notes[:, 0]))])
    return parts
