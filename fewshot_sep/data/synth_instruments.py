"""The project's own synthesised instruments: a training sound source with random timbres.

Soundfonts hold one or two samples per GM class; producers' instruments vary
far more. This source plays a part with a patch drawn at random per stem
(seeded, so deterministic): one of five synthesis methods, each with random
timbre parameters, envelopes, vibrato and noise, labelled by the GM class it
imitates (`SYNTH_PROGRAMS`, seen classes only, so the instrument split keeps
its meaning):

- ``plucked``: Karplus-Strong strings (guitars, basses, banjo, dulcimer, pizzicato);
- ``fm``: two-operator FM (electric pianos, mallets, bells);
- ``subtractive``: saw / square / pulse oscillators through a resonant low-pass
  with its own envelope (synth leads, basses, pads, brass, strings);
- ``additive``: harmonic series with a random spectral shape and odd/even
  balance (organs, flutes, clarinet, choirs);
- ``wavetable``: a random single-cycle wave morphing into a second one over
  the note (calliope, chiff, soundtrack-like leads).

Used as the training "soundfont" ``synth`` (`fewshot_sep.data.soundfonts`).
"""

from __future__ import annotations

import numpy as np

from fewshot_sep.contract.signal import SAMPLE_RATE

METHOD_PROGRAMS: dict[str, tuple[int, ...]] = {
    "plucked": (24, 25, 26, 33, 34, 45, 15, 105),
    "fm": (4, 5, 8, 9, 10, 12, 13),
    "subtractive": (39, 50, 63, 80, 81, 84, 87, 89, 90, 92),
    "additive": (16, 17, 18, 20, 52, 53, 71, 72, 73, 74),
    "wavetable": (82, 85, 97),
}
SYNTH_PROGRAMS: dict[int, str] = {p: m for m, programs in METHOD_PROGRAMS.items() for p in programs}
"""GM program -> synthesis method (every program a seen class of DESIGN.md's split)."""
RMS = 0.05
PEAK = 0.9
RELEASE_S = 0.25


def _midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def draw_patch(rng: np.random.Generator, program: int) -> dict:
    """Random timbre parameters of a `program` patch (JSON-able)."""
    method = SYNTH_PROGRAMS[program]
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    patch = {"method": method, "attack": u(0.002, 0.04), "decay": u(0.1, 1.2), "sustain": u(0.2, 0.9),
             "release": u(0.05, RELEASE_S), "vibrato_hz": u(4.0, 6.5), "vibrato_cents": u(0.0, 18.0),
             "noise": u(0.0, 0.03), "detune_cents": u(0.0, 12.0)}
    if method == "plucked":
        patch.update(damping=u(0.990, 0.9995), brightness=u(0.2, 0.9), pick=u(0.05, 0.45))
    elif method == "fm":
        patch.update(ratio=float(rng.choice([1.0, 2.0, 3.0, 3.5, 4.0, 7.0, 14.0])), index=u(0.5, 6.0),
                     index_decay=u(0.2, 3.0), attack=u(0.001, 0.01), sustain=u(0.0, 0.4))
    elif method == "subtractive":
        patch.update(wave=str(rng.choice(["saw", "square", "pulse"])), width=u(0.1, 0.5), cutoff=u(300.0, 4000.0),
                     env_amount=u(0.0, 4.0), resonance=u(0.0, 0.85), filter_decay=u(0.05, 0.8))
    elif method == "additive":
        patch.update(rolloff=u(0.6, 2.2), odd_even=u(-0.9, 0.9), harmonics=int(rng.integers(4, 24)),
                     formant_hz=u(400.0, 3000.0), formant_gain=u(0.0, 3.0))
    else:
        patch.update(wave_a=rng.normal(0, 1, 12).round(4).tolist(), wave_b=rng.normal(0, 1, 12).round(4).tolist(),
                     morph_s=u(0.1, 1.5))
    return patch


def _envelope(p: dict, n_on: int, n_total: int) -> np.ndarray:
    t = np.arange(n_total) / SAMPLE_RATE
    attack = np.minimum(1.0, t / p["attack"])
    decay = p["sustain"] + (1.0 - p["sustain"]) * np.exp(-np.maximum(t - p["attack"], 0.0) / p["decay"])
    env = attack * decay
    if n_on < n_total:
        level = env[n_on - 1] if n_on > 0 else 0.0
        env[n_on:] = level * np.exp(-(t[n_on:] - t[n_on]) / max(p["release"] / 4.0, 1e-3))
    return env


def _phase(p: dict, f0: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Phase in cycles ``[n]`` of a note at `f0` Hz with vibrato (and a slow random drift)."""
    t = np.arange(n) / SAMPLE_RATE
    vib = p["vibrato_cents"] * np.sin(2 * np.pi * p["vibrato_hz"] * t + rng.uniform(0, 2 * np.pi)) \
        * np.minimum(1.0, t / 0.3)
    freq = f0 * 2.0 ** (vib / 1200.0)
    return np.cumsum(freq) / SAMPLE_RATE


def _voice(p: dict, f0: float, n_on: int, n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import lfilter

    method = p["method"]
    if method == "plucked":
        period = max(2, int(round(SAMPLE_RATE / f0)))
        burst = rng.uniform(-1, 1, period)
        burst = lfilter([p["brightness"]], [1, p["brightness"] - 1], burst)  # softer pluck, less bright
        pick = max(1, int(p["pick"] * period))
        burst[pick:] -= burst[:-pick]  # the pick position's comb
        excitation = np.zeros(n)
        excitation[:period] = burst
        g = p["damping"] if n_on >= n else p["damping"] ** 4  # muted after the note-off
        a = np.zeros(period + 2)
        a[0], a[period], a[period + 1] = 1.0, -0.5 * g, -0.5 * g
        out = lfilter([1.0], a, excitation)
        if n_on < n:
            out[n_on:] *= np.exp(-np.arange(n - n_on) / (p["release"] * SAMPLE_RATE / 3))
        return out
    env = _envelope(p, n_on, n)
    phase = _phase(p, f0, n, rng)
    if method == "fm":
        t = np.arange(n) / SAMPLE_RATE
        index = p["index"] * np.exp(-t / p["index_decay"])
        return env * np.sin(2 * np.pi * phase + index * np.sin(2 * np.pi * p["ratio"] * phase))
    if method == "subtractive":
        frac = phase % 1.0
        detuned = (phase * 2.0 ** (p["detune_cents"] / 1200.0)) % 1.0
        if p["wave"] == "saw":
            osc = (2 * frac - 1) + (2 * detuned - 1)
        else:
            width = 0.5 if p["wave"] == "square" else p["width"]
            osc = np.where(frac < width, 1.0, -1.0) + np.where(detuned < width, 1.0, -1.0)
        t = np.arange(n) / SAMPLE_RATE
        cutoff = np.clip(p["cutoff"] * (1 + p["env_amount"] * np.exp(-t / p["filter_decay"])), 60, 16000)
        # two one-pole low-passes with feedback: a cheap resonant filter, updated per block
        out = np.zeros(n)
        z1 = z2 = 0.0
        for start in range(0, n, 256):
            c = 1.0 - np.exp(-2 * np.pi * cutoff[start] / SAMPLE_RATE)
            seg = osc[start:start + 256]
            y1, zf1 = lfilter([c], [1, c - 1], seg, zi=[z1 * (1 - c)])
            y2, zf2 = lfilter([c], [1, c - 1], y1 - p["resonance"] * 0.5 * (y1 - seg), zi=[z2 * (1 - c)])
            z1, z2 = y1[-1], y2[-1]
            out[start:start + 256] = y2
        return env * out
    if method == "additive":
        out = np.zeros(n)
        for h in range(1, p["harmonics"] + 1):
            fh = f0 * h
            if fh > 0.45 * SAMPLE_RATE:
                break
            amp = h ** -p["rolloff"] * (1 + p["odd_even"] * (1 if h % 2 else -1))
            amp *= 1 + p["formant_gain"] * np.exp(-((np.log2(fh / p["formant_hz"])) ** 2) * 4)
            out += amp * np.sin(2 * np.pi * h * phase)
        return env * out
    wave_a, wave_b = np.asarray(p["wave_a"]), np.asarray(p["wave_b"])
    h = np.arange(1, len(wave_a) + 1)[:, None]
    morph = np.minimum(1.0, np.arange(n) / (p["morph_s"] * SAMPLE_RATE))
    keep = (h[:, 0] * f0) < 0.45 * SAMPLE_RATE
    sines = np.sin(2 * np.pi * h[keep] * phase[None])
    out = ((1 - morph) * (wave_a[keep, None] / h[keep] * sines).sum(0) + morph * (wave_b[keep, None] / h[keep] * sines).sum(0))
    return env * out


def render_synth(program: int, notes: np.ndarray, num_samples: int, seed: int) -> np.ndarray:
    """Render `notes` (``[n, 4]``: start s, end s, pitch, velocity) with a random patch of
    `program` drawn from `seed`; float32 ``[num_samples]`` mono at 44.1 kHz, RMS up to `RMS`, peak
    at most `PEAK`."""
    if program not in SYNTH_PROGRAMS:
        from fewshot_sep.utils.errors import UserError

        raise UserError(f"the synth source has no patch for program {program}: use one of {sorted(SYNTH_PROGRAMS)}")
    rng = np.random.default_rng(seed)
    patch = draw_patch(rng, program)
    out = np.zeros(num_samples)
    for start, end, pitch, velocity in np.asarray(notes, np.float64).reshape(-1, 4):
        s0 = int(round(start * SAMPLE_RATE))
        if s0 >= num_samples:
            continue
        n_on = max(1, int(round((end - start) * SAMPLE_RATE)))
        n = min(num_samples - s0, n_on + int(patch["release"] * SAMPLE_RATE) + 1)
        voice = _voice(patch, _midi_hz(pitch), min(n_on, n), n, rng)
        if patch["noise"] > 0:
            voice = voice + patch["noise"] * rng.standard_normal(n) * _envelope(patch, min(n_on, n), n)
        out[s0:s0 + n] += (velocity / 127.0) ** 1.5 * voice
    rms = float(np.sqrt(np.mean(out ** 2))) if num_samples else 0.0
    if rms > 0:  # the level of a soundfont stem (RMS about -26 dBFS), random within 6 dB
        out *= RMS * float(rng.uniform(0.5, 1.0)) / rms
        out *= min(1.0, PEAK / float(np.abs(out).max()))
    return out.astype(np.float32)


__all__ = ["render_synth", "draw_patch", "SYNTH_PROGRAMS", "METHOD_PROGRAMS"]
