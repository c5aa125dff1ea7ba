"""Render one part's notes to mono float audio with FluidSynth (pyfluidsynth).

Each call creates a fresh synthesizer (with dynamic sample loading that costs
~30 ms), because a reused FluidSynth instance carries state between renders
(its 64-sample block phase and voice ramps) and the output would then depend on
what was rendered before. Reverb and chorus are off: stems are dry and the
output is a pure function of (soundfont, bank, preset, notes, length).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from fewshot_sep.contract.signal import SAMPLE_RATE

SYNTH_GAIN = 0.4
_BLOCK = 64  # FluidSynth's internal block: events take effect at block boundaries


def _fluidsynth():
    import fluidsynth

    fl = fluidsynth._fl
    fl.fluid_synth_write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                           ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    fl.fluid_synth_write_float.restype = ctypes.c_int
    return fluidsynth, fl


def list_presets(soundfont: Path, banks: tuple[int, ...] = (0, 128)) -> set[tuple[int, int]]:
    """(bank, preset) pairs that `soundfont` defines in `banks`."""
    fluidsynth, _ = _fluidsynth()
    synth = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(SAMPLE_RATE), **{"synth.dynamic-sample-loading": 1})
    try:
        sfid = synth.sfload(str(soundfont))
        return {(b, p) for b in banks for p in range(128) if synth.sfpreset_name(sfid, b, p)}
    finally:
        synth.delete()


def render_notes(soundfont: Path, bank: int, preset: int, notes: np.ndarray, num_samples: int) -> np.ndarray:
    """Render `notes` (``[n, 4]``: start s, end s, pitch, velocity) on (bank, preset).

    Returns float32 ``[num_samples]``: the mean of FluidSynth's left and right
    outputs at 44.1 kHz (dry, gain `SYNTH_GAIN`), starting at time 0.
    Raises `RuntimeError` if the soundfont lacks the preset.
    """
    fluidsynth, fl = _fluidsynth()
    synth = fluidsynth.Synth(
        gain=SYNTH_GAIN,
        samplerate=float(SAMPLE_RATE),
        **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.dynamic-sample-loading": 1,
           "synth.polyphony": 256, "synth.cpu-cores": 1},
    )
    try:
        sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            raise RuntimeError(f"FluidSynth could not load {soundfont}")
        channel = 9 if bank == 128 else 0
        if not synth.sfpreset_name(sfid, bank, preset) or synth.program_select(channel, sfid, bank, preset) != 0:
            raise RuntimeError(f"{soundfont.name} has no preset bank {bank} program {preset}")
        left = np.zeros(num_samples, np.float32)
        right = np.zeros(num_samples, np.float32)
        # (sample, order, pitch, velocity): note-offs (order 0) before note-ons at the same sample
        events = []
        for start, end, pitch, vel in np.asarray(notes, dtype=np.float64).reshape(-1, 4):
            s0 = int(round(start * SAMPLE_RATE))
            s1 = max(s0 + 1, int(round(end * SAMPLE_RATE)))
            if s0 >= num_samples:
                continue
            events.append((s0, 1, int(pitch), int(vel)))
            events.append((min(s1, num_samples), 0, int(pitch), 0))
        events.sort()
        pos = 0
        for sample, is_on, pitch, vel in events:
            if sample > pos:
                fl.fluid_synth_write_float(synth.synth, sample - pos, left.ctypes.data + 4 * pos, 0, 1,
                                           right.ctypes.data + 4 * pos, 0, 1)
                pos = sample
            if is_on:
                synth.noteon(channel, pitch, max(1, min(127, vel)))
            else:
                synth.noteoff(channel, pitch)
        if num_samples > pos:
            fl.fluid_synth_write_float(synth.synth, num_samples - pos, left.ctypes.data + 4 * pos, 0, 1,
                                       right.ctypes.data + 4 * pos, 0, 1)
        return (0.5 * (left + right)).astype(np.float32)
    finally:
        synth.delete()
