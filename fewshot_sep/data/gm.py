"""General MIDI vocabulary: program names, families, drum kits, registers and roles.

Instrument labels used everywhere in the project are integers:

- ``0..127``: melodic GM program (channel 1-9, 11-16 in MIDI terms);
- ``128 + preset``: drum kit = bank 128 preset ``preset`` (128 = Standard,
  153 = TR-808, 168 = Brush, ...).
"""

from __future__ import annotations

from fewshot_sep.utils.errors import UserError

DRUM_OFFSET = 128
"""Instrument id of drum kit ``preset`` is ``DRUM_OFFSET + preset``."""

PROGRAM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone",
    "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
    "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Choir", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax",
    "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute",
    "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)",
    "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto",
    "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet",
    "Telephone Ring", "Helicopter", "Applause", "Gunshot",
)
assert len(PROGRAM_NAMES) == 128

FAMILY_NAMES: tuple[str, ...] = (
    "Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble", "Brass",
    "Reed", "Pipe", "Synth Lead", "Synth Pad", "Synth Effects", "Ethnic", "Percussive", "Sound Effects",
)
"""The 16 GM families; program p belongs to family p // 8."""

DRUM_FAMILY = "Drum Kit"
"""Family label of every drum kit (a 17th family beside the 16 GM ones)."""

DRUM_KITS: dict[int, str] = {
    0: "Standard", 8: "Room", 16: "Power", 24: "Electronic",
    25: "TR-808", 32: "Jazz", 40: "Brush", 48: "Orchestra",
}
"""GM2/GS drum kits (bank 128 presets) present in both FluidR3_GM.sf2 and TimGM6mb.sf2
(checked with pyfluidsynth ``sfpreset_name``; FluidR3 has further variants such as
"Standard 1" that are not used)."""

ALL_INSTRUMENTS: tuple[int, ...] = tuple(range(128)) + tuple(DRUM_OFFSET + k for k in DRUM_KITS)


def is_drum(instrument: int) -> bool:
    """True for drum-kit instrument ids (``>= 128``)."""
    return instrument >= DRUM_OFFSET


def validate_instrument(instrument: int) -> int:
    """Return `instrument` if it is a known label, else raise `UserError`."""
    if not isinstance(instrument, (int,)) or isinstance(instrument, bool):
        raise UserError(f"instrument {instrument!r} is not an integer: use 0..127 (GM program) or 128+kit")
    if 0 <= instrument < 128 or (instrument - DRUM_OFFSET) in DRUM_KITS:
        return instrument
    kits = ", ".join(f"{DRUM_OFFSET + k} ({n})" for k, n in DRUM_KITS.items())
    raise UserError(f"instrument {instrument} is unknown: use 0..127 (GM program) or a drum kit: {kits}")


def bank_preset(instrument: int) -> tuple[int, int]:
    """MIDI (bank, preset) that selects `instrument` in a GM soundfont."""
    validate_instrument(instrument)
    return (128, instrument - DRUM_OFFSET) if is_drum(instrument) else (0, instrument)


def instrument_name(instrument: int) -> str:
    """Human-readable name, e.g. ``"Violin"`` or ``"Drum Kit: TR-808"``."""
    validate_instrument(instrument)
    if is_drum(instrument):
        return f"Drum Kit: {DRUM_KITS[instrument - DRUM_OFFSET]}"
    return PROGRAM_NAMES[instrument]


def family_of(instrument: int) -> str:
    """GM family name of `instrument` (``"Drum Kit"`` for kits)."""
    validate_instrument(instrument)
    return DRUM_FAMILY if is_drum(instrument) else FAMILY_NAMES[instrument // 8]


def slug(instrument: int) -> str:
    """File-name-safe short name, e.g. ``"040-violin"`` or ``"153-drums-tr-808"``."""
    name = instrument_name(instrument).lower().replace("drum kit: ", "drums-")
    clean = "".join(ch if ch.isalnum() else "-" for ch in name)
    while "--" in clean:
        clean = clean.replace("--", "-")
    return f"{instrument:03d}-{clean.strip('-')}"


# ----------------------------------------------------------------------------
# Registers (MIDI note ranges where a program sounds plausible) and roles.
# ----------------------------------------------------------------------------

_FAMILY_RANGE: dict[int, tuple[int, int]] = {
    0: (36, 96), 1: (60, 96), 2: (36, 91), 3: (40, 84), 4: (28, 55), 5: (48, 88), 6: (40, 84),
    7: (48, 80), 8: (50, 84), 9: (60, 96), 10: (48, 91), 11: (40, 84), 12: (40, 91), 13: (50, 84),
    14: (48, 79), 15: (48, 84),
}
_PROGRAM_RANGE: dict[int, tuple[int, int]] = {
    8: (60, 103), 9: (72, 105), 10: (60, 96), 11: (53, 89), 12: (45, 96), 13: (65, 103),
    14: (60, 77), 15: (48, 84), 21: (53, 89), 22: (60, 84), 23: (53, 89),
    40: (55, 96), 41: (48, 84), 42: (36, 72), 43: (28, 55), 44: (48, 88), 45: (36, 84),
    46: (36, 96), 47: (40, 55), 52: (48, 79), 53: (48, 79), 54: (48, 79), 55: (48, 72),
    56: (55, 82), 57: (40, 70), 58: (28, 55), 59: (55, 82), 60: (41, 77), 61: (48, 80),
    64: (56, 87), 65: (49, 80), 66: (44, 75), 67: (36, 68), 68: (58, 91), 69: (52, 81),
    70: (34, 72), 71: (50, 91), 72: (74, 103), 73: (60, 96), 74: (60, 96), 75: (60, 96),
    76: (60, 84), 77: (55, 86), 78: (60, 96), 79: (60, 84), 87: (36, 72),
    104: (48, 84), 105: (48, 84), 106: (50, 79), 107: (55, 91), 108: (60, 91), 109: (55, 77),
    110: (55, 96), 111: (60, 88), 112: (72, 96), 113: (60, 79), 114: (52, 84), 115: (60, 84),
    116: (36, 60), 117: (40, 65), 118: (40, 72), 119: (48, 72),
}


def note_range(program: int) -> tuple[int, int]:
    """Plausible (lowest, highest) MIDI note for melodic `program` (0..127)."""
    if not 0 <= program < 128:
        raise UserError(f"program {program} is not a melodic GM program: use 0..127")
    return _PROGRAM_RANGE.get(program, _FAMILY_RANGE[program // 8])


ROLES = ("bass", "comp", "melody", "arp", "drums")
"""Parts the procedural generator writes; each melodic program supports some of them."""

_BASS = {32, 33, 34, 35, 36, 37, 38, 39, 42, 43, 47, 57, 58, 67, 70, 87, 116, 117}
_COMP = (set(range(0, 8)) | {11, 12, 15} | set(range(16, 22)) | {23} | set(range(24, 31))
         | {44, 45, 46} | set(range(48, 56)) | {61, 62, 63} | set(range(88, 104)) | {105, 114})
_ARP = set(range(0, 16)) | {24, 25, 26, 27, 28, 31, 45, 46} | set(range(80, 87)) | set(range(104, 109)) | {112, 114}
_NOT_MELODY = set(range(32, 40)) | {43, 47, 55, 58, 116} | set(range(88, 96))


def roles_of(instrument: int) -> tuple[str, ...]:
    """Roles the generator may give `instrument` (kits: only ``"drums"``)."""
    validate_instrument(instrument)
    if is_drum(instrument):
        return ("drums",)
    roles = []
    if instrument in _BASS:
        roles.append("bass")
    if instrument in _COMP:
        roles.append("comp")
    if instrument not in _NOT_MELODY:
        roles.append("melody")
    if instrument in _ARP:
        roles.append("arp")
    if not roles:  # every program gets at least one role
        roles.append("melody")
    return tuple(roles)
