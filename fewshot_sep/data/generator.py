"""Procedural multi-part MIDI generator: drums, bass, comping, melody, arpeggios.

A generated work shares one tempo, meter, key and chord progression between
its parts, so mixtures of its stems are musically coherent. Everything is
drawn from a `numpy.random.Generator` seeded by the caller: same seed, same notes.
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.data.gm import is_drum, note_range
from fewshot_sep.data.notes import Part

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# Progressions as scale degrees (0-based) of the chord roots.
_PROGRESSIONS = (
    (0, 4, 5, 3), (0, 3, 4, 3), (1, 4, 0, 0), (0, 5, 3, 4), (0, 3, 0, 4), (5, 3, 0, 4),
    (0, 0, 3, 4), (0, 6, 5, 4), (0, 2, 3, 4), (0, 5, 1, 4), (3, 4, 0, 5), (0, 3, 5, 4),
)

# GM percussion keys.
KICK, SNARE, SIDESTICK, CLAP, HAT_CLOSED, HAT_PEDAL, HAT_OPEN = 36, 38, 37, 39, 42, 44, 46
TOM_LOW, TOM_MID, TOM_HIGH, CRASH, RIDE, RIDE_BELL, TAMBOURINE, COWBELL, SHAKER = 45, 47, 50, 49, 51, 53, 54, 56, 70


class Harmony:
    """Tempo, meter, key and one chord per bar, shared by a work's parts."""

    def __init__(self, rng: np.random.Generator, duration_s: float) -> None:
        self.tempo_bpm = float(rng.uniform(68, 164))
        self.beats_per_bar = int(rng.choice([4, 4, 4, 3]))
        self.beat_s = 60.0 / self.tempo_bpm
        self.bar_s = self.beat_s * self.beats_per_bar
        n_bars = max(4, int(round(duration_s / self.bar_s)))
        self.root = int(rng.integers(0, 12))
        self.scale = _MAJOR if rng.random() < 0.6 else _MINOR
        prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
        bars_per_chord = int(rng.choice([1, 1, 2]))
        self.n_bars = n_bars
        self.chord_degrees = [prog[(b // bars_per_chord) % len(prog)] for b in range(n_bars)]
        self.swing = float(rng.choice([0.0, 0.0, 0.0, 0.16]))

    def chord_pcs(self, bar: int, sevenths: bool = False) -> list[int]:
        """Pitch classes (0..11) of the chord in `bar`: root, third, fifth (, seventh)."""
        deg = self.chord_degrees[bar % self.n_bars]
        idx = [deg, deg + 2, deg + 4] + ([deg + 6] if sevenths else [])
        return [int((self.root + self.scale[i % 7]) % 12) for i in idx]

    def scale_pcs(self) -> set[int]:
        """Pitch classes of the key's scale."""
        return {int((self.root + s) % 12) for s in self.scale}

    def time(self, bar: int, beat: float) -> float:
        """Seconds of (bar, beat), with swing applied to off-beat eighths."""
        frac = beat % 1.0
        if self.swing and abs(frac - 0.5) < 1e-6:
            beat += self.swing
        return (bar * self.beats_per_bar + beat) * self.beat_s


def _pitches_in(pcs: list[int] | set[int], lo: int, hi: int) -> list[int]:
    return [p for p in range(lo, hi + 1) if p % 12 in pcs]


def _closest(pitches: list[int], target: float) -> int:
    return min(pitches, key=lambda p: (abs(p - target), p))


def _bar_mutes(rng: np.random.Generator, n_bars: int, section: int = 4) -> np.ndarray:
    """Boolean per bar: True where the part rests (whole sections, at most ~30 %)."""
    muted = np.zeros(n_bars, bool)
    n_sections = max(1, n_bars // section)
    if n_sections >= 3:
        for s in rng.choice(n_sections, size=int(rng.integers(0, n_sections // 3 + 1)), replace=False):
            muted[s * section:(s + 1) * section] = True
    return muted


class _Writer:
    """Collects notes with humanised velocity and timing."""

    def __init__(self, rng: np.random.Generator, base_velocity: float, legato: float) -> None:
        self.rng = rng
        self.base_velocity = base_velocity
        self.legato = legato
        self.notes: list[tuple[float, float, int, int]] = []

    def add(self, start: float, length: float, pitch: int, accent: float = 0.0, legato: float | None = None) -> None:
        vel = self.base_velocity + accent + self.rng.normal(0.0, 6.0)
        jitter = self.rng.normal(0.0, 0.004)
        start = max(0.0, start + jitter)
        dur = max(0.03, length * (self.legato if legato is None else legato))
        self.notes.append((start, start + dur, int(pitch), int(np.clip(round(vel), 1, 127))))


def _bass(rng: np.random.Generator, h: Harmony, lo: int, hi: int, w: _Writer) -> None:
    pattern = int(rng.integers(4))
    center = lo + (hi - lo) * 0.35
    muted = _bar_mutes(rng, h.n_bars)
    for bar in range(h.n_bars):
        if muted[bar]:
            continue
        pcs = h.chord_pcs(bar)
        root = _closest(_pitches_in([pcs[0]], lo, hi), center)
        fifth = _closest(_pitches_in([pcs[2]], lo, hi), root + 7)
        if pattern == 0:  # roots on each beat
            for b in range(h.beats_per_bar):
                w.add(h.time(bar, b), h.beat_s, root, accent=8 if b == 0 else 0)
        elif pattern == 1:  # root-fifth half notes
            for i, b in enumerate(range(0, h.beats_per_bar, 2)):
                w.add(h.time(bar, b), 2 * h.beat_s, root if i % 2 == 0 else fifth)
        elif pattern == 2:  # eighth-note pulse
            for k in range(2 * h.beats_per_bar):
                w.add(h.time(bar, k / 2), h.beat_s / 2, root if k % 4 != 3 else fifth, accent=6 if k % 2 == 0 else -6)
        else:  # walking line through scale tones toward the next root
            nxt = _closest(_pitches_in([h.chord_pcs(bar + 1)[0]], lo, hi), root)
            scale = sorted(_pitches_in(h.scale_pcs(), lo, hi))
            cur = root
            for b in range(h.beats_per_bar):
                w.add(h.time(bar, b), h.beat_s, cur, accent=6 if b == 0 else 0)
                step = 1 if nxt >= cur else -1
                cand = [p for p in scale if (p - cur) * step > 0]
                cur = cand[0] if step > 0 and cand else (cand[-1] if cand else cur)


def _voicing(h: Harmony, bar: int, lo: int, hi: int, center: float, n_voices: int, sevenths: bool) -> list[int]:
    pcs = h.chord_pcs(bar, sevenths)
    pool = _pitches_in(pcs, max(lo, int(center) - 9), min(hi, int(center) + 12))
    if not pool:
        pool = _pitches_in(pcs, lo, hi)
    start = _closest(pool, center - 4)
    chord = [p for p in pool if p >= start][:n_voices]
    return chord or pool[:n_voices]


def _comp(rng: np.random.Generator, h: Harmony, lo: int, hi: int, w: _Writer, sustained: bool) -> None:
    center = lo + (hi - lo) * 0.45
    n_voices = int(rng.integers(3, 5))
    sevenths = bool(rng.random() < 0.4)
    style = 0 if sustained else int(rng.integers(4))
    muted = _bar_mutes(rng, h.n_bars)
    for bar in range(h.n_bars):
        if muted[bar]:
            continue
        chord = _voicing(h, bar, lo, hi, center, n_voices, sevenths)
        if style == 0:  # one held chord per bar
            hits = [(0.0, float(h.beats_per_bar))]
        elif style == 1:  # half notes
            hits = [(b, 2.0) for b in range(0, h.beats_per_bar, 2)]
        elif style == 2:  # off-beat stabs
            hits = [(b + 0.5, 0.4) for b in range(h.beats_per_bar)]
        else:  # syncopated
            hits = [(0.0, 1.5), (1.5, 1.0), (2.5, 1.5)][: h.beats_per_bar]
        for beat, length in hits:
            for i, p in enumerate(chord):
                strum = 0.012 * i if not sustained else 0.0
                w.add(h.time(bar, beat) + strum, length * h.beat_s, p, accent=4 if beat == 0 else 0)


def _arp(rng: np.random.Generator, h: Harmony, lo: int, hi: int, w: _Writer) -> None:
    center = lo + (hi - lo) * 0.5
    step = float(rng.choice([0.5, 0.25, 1.0 / 3.0]))
    shape = int(rng.integers(3))
    muted = _bar_mutes(rng, h.n_bars)
    for bar in range(h.n_bars):
        if muted[bar]:
            continue
        pcs = h.chord_pcs(bar, sevenths=bool(rng.random() < 0.3))
        pool = _pitches_in(pcs, max(lo, int(center) - 7), min(hi, int(center) + 12))
        if not pool:
            continue
        seq = pool if shape == 0 else (pool[::-1] if shape == 1 else pool + pool[-2:0:-1])
        n_steps = int(round(h.beats_per_bar / step))
        for k in range(n_steps):
            w.add(h.time(bar, k * step), step * h.beat_s, seq[k % len(seq)], accent=6 if k == 0 else 0)


_RHYTHMS = ((1, 1, 1, 1), (1.5, 0.5, 1, 1), (0.5, 0.5, 1, 2), (2, 1, 1), (1, 0.5, 0.5, 2), (0.5,) * 8, (3, 1), (1, 1, 2))


def _melody(rng: np.random.Generator, h: Harmony, lo: int, hi: int, w: _Writer) -> None:
    scale = sorted(_pitches_in(h.scale_pcs(), lo, hi))
    if not scale:
        return
    center = lo + (hi - lo) * 0.55
    idx = scale.index(_closest(scale, center))
    muted = _bar_mutes(rng, h.n_bars)
    for bar in range(h.n_bars):
        if muted[bar]:
            continue
        rhythm = list(_RHYTHMS[int(rng.integers(len(_RHYTHMS)))])
        total = sum(rhythm)
        rhythm = [r * h.beats_per_bar / total for r in rhythm]
        chord = set(h.chord_pcs(bar))
        beat = 0.0
        for k, length in enumerate(rhythm):
            if rng.random() < 0.12 and k > 0:  # a rest
                beat += length
                continue
            idx = int(np.clip(idx + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), 0, len(scale) - 1))
            # drift back toward the centre of the register
            if scale[idx] > center + 9:
                idx = max(0, idx - 2)
            elif scale[idx] < center - 9:
                idx = min(len(scale) - 1, idx + 2)
            pitch = scale[idx]
            if beat == 0.0 and pitch % 12 not in chord:  # chord tone on the downbeat
                near = [p for p in scale if p % 12 in chord]
                if near:
                    pitch = _closest(near, pitch)
                    idx = scale.index(pitch)
            w.add(h.time(bar, beat), length * h.beat_s, pitch, accent=8 if beat == 0 else 0)
            beat += length


def _drums(rng: np.random.Generator, h: Harmony, w: _Writer) -> None:
    style = int(rng.integers(5))
    bpb = h.beats_per_bar
    for bar in range(h.n_bars):
        fill = (bar % 8 == 7) and rng.random() < 0.6
        if bar % 8 == 0:
            w.add(h.time(bar, 0), 1.5 * h.beat_s, CRASH, accent=10, legato=1.0)
        if fill:
            for k in range(2 * bpb):
                w.add(h.time(bar, k / 2), h.beat_s / 2, [TOM_HIGH, TOM_MID, TOM_LOW, SNARE][k * 4 // (2 * bpb)], accent=k)
            continue
        for k in range(2 * bpb):  # eighth-note grid
            beat = k / 2
            on_beat = k % 2 == 0
            if style == 0:  # rock
                if beat in (0, 2) or (beat == 2.5 and rng.random() < 0.4):
                    w.add(h.time(bar, beat), h.beat_s / 2, KICK, accent=6)
                if beat in (1, 3):
                    w.add(h.time(bar, beat), h.beat_s / 2, SNARE, accent=8)
                w.add(h.time(bar, beat), h.beat_s / 2, HAT_CLOSED, accent=4 if on_beat else -10)
            elif style == 1:  # four on the floor
                if on_beat:
                    w.add(h.time(bar, beat), h.beat_s / 2, KICK, accent=8)
                else:
                    w.add(h.time(bar, beat), h.beat_s / 2, HAT_OPEN, accent=-4)
                if beat in (1, 3):
                    w.add(h.time(bar, beat), h.beat_s / 2, CLAP, accent=4)
            elif style == 2:  # half time
                if beat == 0 or (beat == 1.5 and rng.random() < 0.5):
                    w.add(h.time(bar, beat), h.beat_s / 2, KICK, accent=6)
                if beat == 2:
                    w.add(h.time(bar, beat), h.beat_s / 2, SNARE, accent=10)
                w.add(h.time(bar, beat), h.beat_s / 2, HAT_CLOSED if rng.random() < 0.9 else HAT_OPEN, accent=0 if on_beat else -12)
            elif style == 3:  # jazz ride with swing feel
                if on_beat or beat % 2 == 1.5:
                    w.add(h.time(bar, beat), h.beat_s / 2, RIDE, accent=2)
                if beat in (1, 3):
                    w.add(h.time(bar, beat), h.beat_s / 2, HAT_PEDAL, accent=-8)
                if rng.random() < 0.12:
                    w.add(h.time(bar, beat), h.beat_s / 2, SNARE, accent=-15)
                if beat == 0 and rng.random() < 0.5:
                    w.add(h.time(bar, beat), h.beat_s / 2, KICK, accent=-10)
            else:  # latin / percussion
                if beat in (0, 1.5, 2, 3.5):
                    w.add(h.time(bar, beat), h.beat_s / 2, KICK, accent=2)
                if beat in (0.5, 1.5, 3):
                    w.add(h.time(bar, beat), h.beat_s / 2, SIDESTICK, accent=0)
                w.add(h.time(bar, beat), h.beat_s / 2, SHAKER if on_beat else TAMBOURINE, accent=-8)
                if beat in (1, 2.5) and rng.random() < 0.5:
                    w.add(h.time(bar, beat), h.beat_s / 2, COWBELL, accent=-6)


def generate_parts(
    rng: np.random.Generator, instruments: list[tuple[int, str]], duration_s: float
) -> tuple[list[Part], dict]:
    """Write one coherent work for `instruments` (pairs of instrument id and role).

    Returns the parts (in the given order) and a dict of musical facts (tempo,
    meter, key, style) for the manifest's `source` column. The work lasts about
    `duration_s` seconds (whole bars).
    """
    h = Harmony(rng, duration_s)
    parts = []
    for instrument, role in instruments:
        w = _Writer(rng, base_velocity=float(rng.uniform(60, 110)), legato=float(rng.uniform(0.55, 1.0)))
        if is_drum(instrument):
            _drums(rng, h, w)
        else:
            lo, hi = note_range(instrument)
            if role == "bass":
                _bass(rng, h, lo, hi, w)
            elif role == "comp":
                _comp(rng, h, lo, hi, w, sustained=bool(rng.random() < 0.5))
            elif role == "arp":
                _arp(rng, h, lo, hi, w)
            else:
                _melody(rng, h, lo, hi, w)
        notes = np.array(sorted(w.notes), dtype=np.float64).reshape(-1, 4)
        parts.append(Part(instrument=instrument, role=role, notes=notes))
    facts = {"tempo_bpm": round(h.tempo_bpm, 2), "beats_per_bar": h.beats_per_bar, "key_root": h.root,
             "mode": "major" if h.scale is _MAJOR else "minor", "n_bars": h.n_bars}
    return parts, facts
