"""A second, test-only MIDI generator: textures the training generator never writes.

Used only by the robustness suite (:mod:`fewshot_sep.data.robust_set`), never
by training or model selection, so "music the training never drew on" keeps
its meaning. Compared with :mod:`fewshot_sep.data.generator` it has other
harmony (modes, chromatic-mediant and pedal progressions, 5/4, 6/8 and 7/8)
and other textures:

- ``pad``: sustained chords held across bars, slow voice leading;
- ``riff``: a one- or two-bar syncopated ostinato repeated with variations;
- ``arp``: broken chords in sixteenths or triplets (up-down, Alberti, spread);
- ``lead``: a syncopated line with anticipations and long held notes;
- ``unison``: the lead doubled an octave or two apart (the hardest case:
  the same notes in two instruments);
- ``bass``: a syncopated bass riff locked to the kick;
- ``drums``: half-time, broken-beat and 6/8 grooves.

Pure function of the `numpy.random.Generator` it is given.
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.data.gm import is_drum, note_range
from fewshot_sep.data.notes import Part

# Modes as semitone offsets: dorian, mixolydian, phrygian, lydian, harmonic minor.
_MODES = (
    (0, 2, 3, 5, 7, 9, 10), (0, 2, 4, 5, 7, 9, 10), (0, 1, 3, 5, 7, 8, 10),
    (0, 2, 4, 6, 7, 9, 11), (0, 2, 3, 5, 7, 8, 11),
)
# Root movements in semitones from the tonic: pedals, chromatic mediants, modal vamps.
_ROOT_PATHS = ((0, 0, 5, 5), (0, 8, 3, 10), (0, 4, 9, 5), (0, 10, 8, 10), (0, 3, 0, 10), (0, 1, 0, 1), (0, 7, 2, 9))
# (beats per bar, beat unit in quarter notes): 4/4, 5/4, 6/8 (two dotted quarters), 7/8.
_METERS = ((4, 1.0), (5, 1.0), (2, 1.5), (7, 0.5))
TEXTURE_ROLES = ("pad", "riff", "arp", "lead", "unison", "bass", "drums")


class _Frame:
    """Tempo, meter, mode and one chord root per bar."""

    def __init__(self, rng: np.random.Generator, duration_s: float) -> None:
        self.quarter_s = 60.0 / float(rng.uniform(60, 150))
        self.beats_per_bar, unit = _METERS[int(rng.integers(len(_METERS)))]
        self.beat_s = self.quarter_s * unit
        self.bar_s = self.beat_s * self.beats_per_bar
        self.n_bars = max(4, int(round(duration_s / self.bar_s)))
        self.tonic = int(rng.integers(0, 12))
        self.mode = _MODES[int(rng.integers(len(_MODES)))]
        path = _ROOT_PATHS[int(rng.integers(len(_ROOT_PATHS)))]
        bars_per_chord = int(rng.choice([1, 2, 2, 4]))
        self.roots = [(self.tonic + path[(b // bars_per_chord) % len(path)]) % 12 for b in range(self.n_bars)]

    def chord(self, bar: int, extended: bool) -> list[int]:
        """Pitch classes of the chord on `bar`: root, fifth, the mode's third (and a ninth)."""
        root = self.roots[bar % self.n_bars]
        third = 4 if (root + 4) % 12 in self.scale() else 3  # the mode decides major or minor
        pcs = [root, (root + third) % 12, (root + 7) % 12]
        return pcs + [(root + 2) % 12, (root + 10) % 12] if extended else pcs

    def scale(self) -> set[int]:
        return {(self.tonic + s) % 12 for s in self.mode}

    def t(self, bar: int, beat: float) -> float:
        return (bar * self.beats_per_bar + beat) * self.beat_s


def _pitches(pcs, lo: int, hi: int) -> list[int]:
    return [p for p in range(lo, hi + 1) if p % 12 in set(pcs)]


def _near(pitches: list[int], target: float) -> int:
    return min(pitches, key=lambda p: (abs(p - target), p))


class _Notes:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.base = float(rng.uniform(55, 112))
        self.rows: list[tuple[float, float, int, int]] = []

    def add(self, start: float, length: float, pitch: int, accent: float = 0.0) -> None:
        vel = int(np.clip(round(self.base + accent + self.rng.normal(0, 5)), 1, 127))
        start = max(0.0, start + float(self.rng.normal(0, 0.003)))
        self.rows.append((start, start + max(0.04, length), int(pitch), vel))


def _pad(rng, f: _Frame, lo: int, hi: int, w: _Notes) -> None:
    center = lo + (hi - lo) * 0.5
    voices = int(rng.integers(3, 6))
    bar = 0
    while bar < f.n_bars:
        hold = int(rng.choice([1, 2, 2, 4]))
        pool = _pitches(f.chord(bar, extended=True), max(lo, int(center) - 10), min(hi, int(center) + 10))
        chosen = sorted(rng.choice(pool, size=min(voices, len(pool)), replace=False)) if pool else []
        for p in chosen:
            w.add(f.t(bar, 0), hold * f.bar_s * float(rng.uniform(0.9, 1.02)), int(p), accent=-10)
        bar += hold


def _riff_cells(rng, f: _Frame) -> list[tuple[float, float]]:
    """(beat, length in beats) of a syncopated one-bar rhythm cell."""
    grid = 0.5 if f.beat_s > 0.3 else 1.0
    n = int(round(f.beats_per_bar / grid))
    hits = np.zeros(n, bool)
    hits[0] = True
    off = np.arange(n) % 2 == 1  # off-beats get more hits: syncopation
    hits |= rng.random(n) < np.where(off, 0.55, 0.3)
    idx = np.nonzero(hits)[0]
    ends = list(idx[1:]) + [n]
    return [(i * grid, (e - i) * grid) for i, e in zip(idx, ends)]


def _riff(rng, f: _Frame, lo: int, hi: int, w: _Notes, bass: bool = False) -> None:
    cell = _riff_cells(rng, f)
    center = lo + (hi - lo) * (0.3 if bass else 0.45)
    degrees = rng.integers(-2, 5, size=len(cell))
    for bar in range(f.n_bars):
        if rng.random() < 0.08:
            continue  # a dropped bar
        root = _near(_pitches([f.roots[bar]], lo, hi), center)
        scale = sorted(_pitches(f.scale() | {f.roots[bar]}, lo, hi))
        k0 = scale.index(root) if root in scale else 0
        for (beat, length), d in zip(cell, degrees):
            p = scale[int(np.clip(k0 + (0 if bass and beat == 0 else d), 0, len(scale) - 1))]
            w.add(f.t(bar, beat), length * f.beat_s * 0.85, p, accent=10 if beat % 1 else 0)


def _arp(rng, f: _Frame, lo: int, hi: int, w: _Notes) -> None:
    step = float(rng.choice([0.25, 1.0 / 3.0, 0.5])) * (1.0 if f.beat_s < 0.5 else 0.5) / 0.5
    step = min(step, 0.5)
    shape = int(rng.integers(3))  # 0 up-down, 1 Alberti, 2 spread over two octaves
    center = lo + (hi - lo) * 0.5
    for bar in range(f.n_bars):
        tones = sorted(_pitches(f.chord(bar, extended=rng.random() < 0.4), max(lo, int(center) - 7), min(hi, int(center) + 14)))
        if not tones:
            continue
        if shape == 0:
            order = tones + tones[-2:0:-1]
        elif shape == 1:
            order = [tones[0], tones[-1], tones[len(tones) // 2], tones[-1]]
        else:
            order = tones[::2] + tones[1::2]
        n = int(round(f.beats_per_bar / step))
        for i in range(n):
            w.add(f.t(bar, i * step), step * f.beat_s * 1.6, order[i % len(order)], accent=6 if i % 4 == 0 else -4)


def lead_line(rng, f: _Frame) -> list[tuple[float, float, int]]:
    """(start s, length s, pitch relative to middle C's octave) of a syncopated lead; the
    `unison` parts double these notes in their own octave."""
    scale = sorted(_pitches(f.scale(), 48, 84))
    cur = len(scale) // 2
    notes = []
    for bar in range(f.n_bars):
        if bar % 8 >= 6 and rng.random() < 0.5:
            continue  # a breath every phrase
        beat = 0.0 if rng.random() < 0.5 else -0.5 if bar > 0 else 0.0  # anticipation of the downbeat
        while beat < f.beats_per_bar - 0.25:
            length = float(rng.choice([0.5, 0.5, 1.0, 1.5, 2.0, 3.0]))
            length = min(length, f.beats_per_bar - beat)
            cur = int(np.clip(cur + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3]), 0, len(scale) - 1))
            notes.append((f.t(bar, beat), length * f.beat_s * 0.95, scale[cur]))
            beat += length + float(rng.choice([0.0, 0.0, 0.5]))
    return notes


def _place(line: list[tuple[float, float, int]], lo: int, hi: int, w: _Notes) -> None:
    """Write `line` transposed by whole octaves into [lo, hi]."""
    if not line:
        return
    mid = float(np.median([p for _, _, p in line]))
    shift = 12 * int(round(((lo + hi) / 2 - mid) / 12))
    for start, length, p in line:
        q = p + shift
        while q < lo:
            q += 12
        while q > hi:
            q -= 12
        w.add(start, length, q)


def _drums(rng, f: _Frame, w: _Notes) -> None:
    kick, snare, hat, ride, rim, open_hat = 36, 38, 42, 51, 37, 46
    style = int(rng.integers(3))  # 0 half-time, 1 broken beat, 2 compound (6/8) feel
    sub = 3 if f.beats_per_bar == 2 else 2
    for bar in range(f.n_bars):
        for i in range(f.beats_per_bar * sub):
            beat = i / sub
            w.add(f.t(bar, beat), 0.1, ride if style == 2 else hat, accent=-10 if i % sub else -2)
        if style == 0:
            w.add(f.t(bar, 0), 0.1, kick, accent=8)
            w.add(f.t(bar, f.beats_per_bar / 2), 0.1, snare, accent=10)
            if rng.random() < 0.5:
                w.add(f.t(bar, f.beats_per_bar - 0.5), 0.1, kick)
        elif style == 1:
            for beat in sorted(set(rng.choice(np.arange(0, f.beats_per_bar, 0.5), size=3, replace=False)) | {0.0}):
                w.add(f.t(bar, float(beat)), 0.1, kick, accent=6)
            for beat in (1.0, f.beats_per_bar - 1.0):
                w.add(f.t(bar, beat + (0.5 if rng.random() < 0.3 else 0.0)), 0.1, snare, accent=8)
        else:
            w.add(f.t(bar, 0), 0.1, kick, accent=8)
            w.add(f.t(bar, f.beats_per_bar / 2), 0.1, rim if rng.random() < 0.5 else snare, accent=4)
        if bar % 4 == 3:
            w.add(f.t(bar, f.beats_per_bar - 0.5), 0.1, open_hat, accent=-4)


def generate_texture_parts(rng: np.random.Generator, instruments: list[tuple[int, str]],
                           duration_s: float) -> tuple[list[Part], dict]:
    """Write one coherent work for (instrument, role) pairs, roles from `TEXTURE_ROLES`.

    Returns the parts in the given order and facts for the manifest's `source`
    column (tempo in quarter notes per minute, meter, tonic). All ``lead`` and
    ``unison`` parts share one line (unison doubling).
    """
    f = _Frame(rng, duration_s)
    line = lead_line(rng, f)
    parts = []
    for instrument, role in instruments:
        if role not in TEXTURE_ROLES:
            raise ValueError(f"texture role {role!r} is unknown: use one of {', '.join(TEXTURE_ROLES)}")
        w = _Notes(rng)
        if is_drum(instrument):
            _drums(rng, f, w)
        else:
            lo, hi = note_range(instrument)
            if role == "pad":
                _pad(rng, f, lo, hi, w)
            elif role in ("riff", "bass"):
                _riff(rng, f, lo, hi, w, bass=role == "bass")
            elif role == "arp":
                _arp(rng, f, lo, hi, w)
            else:  # lead / unison
                _place(line, lo, hi, w)
        notes = np.array(sorted(w.rows), dtype=np.float64).reshape(-1, 4)
        parts.append(Part(instrument=instrument, role=role, notes=notes))
    facts = {"tempo_qpm": round(60.0 / f.quarter_s, 2), "meter": f"{f.beats_per_bar}x{f.beat_s / f.quarter_s:g}",
             "tonic": f.tonic}
    return parts, facts


__all__ = ["generate_texture_parts", "TEXTURE_ROLES"]
