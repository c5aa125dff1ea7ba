"""GM vocabulary: names, families, kits present in the training soundfonts, registers."""

import pytest

from fewshot_sep.data import gm
from fewshot_sep.data.soundfonts import DEFAULT_SOUNDFONTS, parse_soundfonts, soundfont_path
from fewshot_sep.data.synth import list_presets
from fewshot_sep.utils.errors import UserError


def test_names_families_and_labels():
    assert len(gm.PROGRAM_NAMES) == 128 and len(gm.FAMILY_NAMES) == 16
    assert gm.instrument_name(40) == "Violin" and gm.family_of(40) == "Strings"
    assert gm.instrument_name(153) == "Drum Kit: TR-808" and gm.family_of(168) == "Drum Kit"
    assert gm.bank_preset(168) == (128, 40) and gm.bank_preset(73) == (0, 73)
    assert gm.slug(153) == "153-drums-tr-808"
    for bad in (-1, 129, 300):
        with pytest.raises(UserError, match=str(bad)):
            gm.instrument_name(bad)


@pytest.mark.parametrize("soundfont", DEFAULT_SOUNDFONTS)
def test_every_kit_and_program_exists_in_training_soundfonts(soundfont):
    presets = list_presets(soundfont_path(soundfont))
    for inst in gm.ALL_INSTRUMENTS:
        assert gm.bank_preset(inst) in presets, (soundfont, inst)
    assert (128, 99) not in presets


def test_registers_and_roles_are_sane():
    for p in range(120):
        lo, hi = gm.note_range(p)
        assert 20 <= lo < hi <= 108 and hi - lo >= 12, p
        assert gm.roles_of(p)
    assert "bass" in gm.roles_of(33) and gm.roles_of(128) == ("drums",)


def test_forbidden_and_unknown_soundfonts():
    with pytest.raises(UserError, match="reserved"):
        parse_soundfonts("musescore_general")
    with pytest.raises(UserError, match="unknown soundfont"):
        parse_soundfonts("fluidr3,nonesuch")
    assert parse_soundfonts("FluidR3, timgm6mb") == ("fluidr3", "timgm6mb")
