"""The render plan: which works to render, with which instruments and soundfont.

The plan is a pure function of (seed, hours, soundfonts, corpus list): works
are planned one after another until the estimated stem hours reach `hours`,
so a bigger `hours` extends a smaller plan with the same first works.

Three streams share the budget:
- ``gen``: generated works with seen instruments only (pieces split 80/10/10 by hash);
- ``corpus``: music21 corpus works (seen instruments; test pieces may get unseen ones);
- ``unseen``: generated works whose id hashes to a *test* piece, about half of
  their parts unseen instruments; they supply the ``test_unseen`` material
  (and extra seen test stems) without unseen audio ever sharing a work with
  training stems.

Instruments are picked by least planned seconds per (instrument, soundfont),
so every seen program and kit gets material on every soundfont.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

import numpy as np

from fewshot_sep.data.gm import ALL_INSTRUMENTS, is_drum, roles_of
from fewshot_sep.data.soundfonts import playable_instruments
from fewshot_sep.data.split import instrument_status, piece_split

CORPUS_SHARE = 0.35
UNSEEN_SHARE = 0.12
GEN_SECONDS = (24.0, 56.0)
CORPUS_MAX_SECONDS = 75.0
CORPUS_EST_SECONDS = 50.0
CORPUS_EST_PARTS = 4
MAX_CORPUS_PARTS = 6


@dataclass
class WorkSpec:
    """One work to render.

    `instruments`: (instrument, role) per part for generated works; for corpus
    works the candidate instruments (role ``"corpus"`` for upper parts,
    ``"bass"`` for the lowest part), mapped to parts by register at render time.
    """

    index: int
    work_id: str
    kind: str  # "gen" | "unseen" | "corpus"
    soundfont: str
    seed: int
    instruments: list[tuple[int, str]]
    duration_s: float
    corpus_path: str = ""
    est_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """Plain-JSON form."""
        d = asdict(self)
        d["instruments"] = [list(x) for x in self.instruments]
        return d


def work_seed(seed: int, work_id: str) -> int:
    """Per-work seed derived from the global seed and the work id (SHA-256, stable)."""
    h = hashlib.sha256(f"{seed}:{work_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") & 0x7FFFFFFFFFFFFFFF


class _Balancer:
    """Least-used choice of instruments per soundfont."""

    def __init__(self, rng: np.random.Generator, soundfonts: tuple[str, ...]) -> None:
        self.rng = rng
        self.usage: dict[tuple[int, str], float] = {}
        self.sf_usage = {sf: 0.0 for sf in soundfonts}

    def soundfont(self) -> str:
        return min(self.sf_usage, key=lambda s: (self.sf_usage[s], self.rng.random()))

    def pick(self, candidates: list[int], soundfont: str, exclude: set[int]) -> int | None:
        playable = playable_instruments(soundfont)  # None: a GM soundfont plays everything
        pool = [c for c in candidates if c not in exclude and (playable is None or c in playable)]
        if not pool:
            return None
        noise = self.rng.uniform(0.0, 30.0, size=len(pool))  # seconds: breaks ties, keeps variety
        scores = [self.usage.get((c, soundfont), 0.0) + n for c, n in zip(pool, noise)]
        return pool[int(np.argmin(scores))]

    def add(self, instrument: int, soundfont: str, seconds: float) -> None:
        self.usage[(instrument, soundfont)] = self.usage.get((instrument, soundfont), 0.0) + seconds
        self.sf_usage[soundfont] += seconds


def _pool(status: str, drums: bool) -> list[int]:
    return [i for i in ALL_INSTRUMENTS if instrument_status(i) == status and is_drum(i) == drums]


def _band(rng: np.random.Generator, bal: _Balancer, sf: str, unseen_frac: float, dur: float) -> list[tuple[int, str]]:
    """Instruments and roles of one generated work (2-6 parts, at most one kit and one bass)."""
    chosen: list[tuple[int, str]] = []
    used: set[int] = set()
    if rng.random() < 0.5:
        status = "unseen" if rng.random() < unseen_frac else "seen"
        kit = bal.pick(_pool(status, True), sf, used)
        if kit is not None:
            chosen.append((kit, "drums"))
            used.add(kit)
    n_melodic = int(rng.integers(2, 5))
    for _ in range(n_melodic):
        status = "unseen" if rng.random() < unseen_frac else "seen"
        roles_present = {r for _, r in chosen}
        candidates = [i for i in _pool(status, False)
                      if not ("bass" in roles_present and roles_of(i) == ("bass",))]
        inst = bal.pick(candidates, sf, used)
        if inst is None:
            continue
        roles = [r for r in roles_of(inst) if not (r == "bass" and "bass" in roles_present)]
        fresh = [r for r in roles if r not in roles_present]
        role = str(rng.choice(fresh or roles))
        chosen.append((inst, role))
        used.add(inst)
    if unseen_frac > 0 and not any(instrument_status(i) == "unseen" for i, _ in chosen):
        inst = bal.pick(_pool("unseen", False), sf, used)  # unseen works always hold one
        if inst is not None:
            chosen.append((inst, str(rng.choice(roles_of(inst)))))
    for inst, _ in chosen:
        bal.add(inst, sf, dur)
    return chosen


def _pick_status(bal: _Balancer, sf: str, used: set[int], status: str, fits) -> int | None:
    """Least-used melodic instrument of `status` that `fits`; for a source without such an
    instrument (the synth plays seen classes only) one of the other status. GM soundfonts
    always find one, so their plans (and random draws) are unchanged."""
    inst = bal.pick([i for i in _pool(status, False) if fits(i)], sf, used)
    if inst is None:
        other = "seen" if status == "unseen" else "unseen"
        inst = bal.pick([i for i in _pool(other, False) if fits(i)], sf, used)
    return inst


def _corpus_candidates(rng: np.random.Generator, bal: _Balancer, sf: str, allow_unseen: bool) -> list[tuple[int, str]]:
    chosen: list[tuple[int, str]] = []
    used: set[int] = set()
    for k in range(MAX_CORPUS_PARTS):
        status = "unseen" if allow_unseen and rng.random() < 0.5 else "seen"
        inst = _pick_status(bal, sf, used, status, lambda i: "melody" in roles_of(i) or "comp" in roles_of(i))
        if inst is None:  # a source that plays few programs (synth) ran out of candidates
            continue
        chosen.append((inst, "corpus"))
        used.add(inst)
        if k < CORPUS_EST_PARTS - 1:
            bal.add(inst, sf, CORPUS_EST_SECONDS)
    status = "unseen" if allow_unseen and rng.random() < 0.5 else "seen"
    bass = _pick_status(bal, sf, used, status, lambda i: "bass" in roles_of(i))
    chosen.append((bass, "bass"))
    bal.add(bass, sf, CORPUS_EST_SECONDS)
    return chosen


def plan_works(seed: int, hours: float, soundfonts: tuple[str, ...], corpus_paths: list[str],
               corpus_share: float = CORPUS_SHARE, unseen_share: float = UNSEEN_SHARE,
               gen_seconds: tuple[float, float] = GEN_SECONDS) -> list[WorkSpec]:
    """Plan works until the estimated total stem duration reaches `hours`.

    `corpus_paths` (sorted corpus-relative paths) are shuffled by `seed`; each
    is used at most once; generated works last `gen_seconds` (range, seconds).
    Returns the specs in render order.
    """
    from fewshot_sep.data.corpus import corpus_work_id

    rng = np.random.default_rng(seed)
    # Round-robin over composers (each shuffled) so Palestrina's 1300 masses do not dominate.
    groups: dict[str, list[str]] = {}
    for path in sorted(corpus_paths):
        groups.setdefault(path.split("/", 1)[0], []).append(path)
    for paths in groups.values():
        rng.shuffle(paths)
    order = [g[i] for i in range(max((len(g) for g in groups.values()), default=0))
             for g in groups.values() if i < len(g)]
    bal = _Balancer(rng, soundfonts)
    budget = hours * 3600.0
    shares = {"gen": 1.0 - corpus_share - unseen_share, "corpus": corpus_share, "unseen": unseen_share}
    done = {"gen": 0.0, "corpus": 0.0, "unseen": 0.0}
    counters = {"gen": 0, "unseen": 0, "corpus": 0}
    total = 0.0
    specs: list[WorkSpec] = []
    planned_ids: set[str] = set()
    next_index = 0
    while total < budget:
        streams = [s for s in ("gen", "corpus", "unseen") if shares[s] > 0 and (s != "corpus" or counters["corpus"] < len(order))]
        if not streams:
            break
        stream = max(streams, key=lambda s: shares[s] * (total + 1.0) - done[s])
        sf = bal.soundfont()
        if stream == "corpus":
            path = order[counters["corpus"]]
            counters["corpus"] += 1
            wid = corpus_work_id(path)
            insts = _corpus_candidates(rng, bal, sf, allow_unseen=piece_split(wid) == "test")
            est = CORPUS_EST_SECONDS * CORPUS_EST_PARTS
            spec = WorkSpec(next_index, wid, "corpus", sf, work_seed(seed, wid), insts, CORPUS_MAX_SECONDS,
                            corpus_path=path, est_seconds=est)
        else:
            prefix = "gen" if stream == "gen" else "genu"
            while True:
                wid = f"{prefix}{seed}-{counters[stream]:05d}"
                counters[stream] += 1
                if stream == "gen" or piece_split(wid) == "test":
                    break
            dur = float(rng.uniform(*gen_seconds))
            insts = _band(rng, bal, sf, 0.0 if stream == "gen" else 0.5, dur)
            est = dur * len(insts)
            spec = WorkSpec(next_index, wid, stream, sf, work_seed(seed, wid), insts, dur, est_seconds=est)
        # The corpus holds some scores twice (e.g. a movement as .mxl and .krn): the second
        # one is planned (so the random stream and later works stay the same) but not rendered.
        if spec.work_id not in planned_ids:
            specs.append(spec)
            planned_ids.add(spec.work_id)
        next_index += 1
        done[stream] += spec.est_seconds
        total += spec.est_seconds
    return specs


__all__ = ["WorkSpec", "plan_works", "work_seed"]
