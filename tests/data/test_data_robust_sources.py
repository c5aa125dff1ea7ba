"""The robust set's pieces: held-out sources, the test-only texture generator, production processing.

The held-out sources need TiMidity++, FreePats and the AVL kits (scripts/setup.sh installs them);
their tests are skipped with the reason when a package is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fewshot_sep.data.soundfonts import soundfont_path
from fewshot_sep.utils.errors import UserError

HAVE_HELDOUT = shutil.which("timidity") is not None and Path("/etc/timidity/freepats.cfg").is_file() \
    and Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2").is_file()
needs_heldout = pytest.mark.skipif(not HAVE_HELDOUT, reason="timidity / freepats / avldrums.lv2-soundfont missing")


@pytest.mark.parametrize("name", ["freepats", "avldrums-blackpearl", "AVLDRUMS-redzeppelin"])
def test_training_refuses_heldout_sources(name):
    with pytest.raises(UserError, match="held out for the robustness suite"):
        soundfont_path(name)


@needs_heldout
def test_freepats_instruments_parse_its_config():
    from fewshot_sep.data.heldout_sources import STANDARD_KIT, freepats_instruments

    found = freepats_instruments()
    assert {0, 40, 73, STANDARD_KIT} <= found  # piano, violin, flute, the drumset
    assert 3 not in found  # FreePats has no Honky-tonk Piano patch
    assert len([i for i in found if i < 128]) > 50


@needs_heldout
@pytest.mark.parametrize("source, instrument", [("freepats", 40), ("freepats", 128), ("avldrums-blackpearl", 128)])
def test_heldout_render_keeps_time_zero(source, instrument):
    from fewshot_sep.data.heldout_sources import render_heldout

    notes = np.array([[0.5, 0.9, 60 if instrument < 128 else 38, 100]], np.float64)
    audio = render_heldout(source, instrument, notes, 44100)
    assert audio.shape == (44100,) and audio.dtype == np.float32
    onset = int(np.argmax(np.abs(audio) > 0.01 * np.abs(audio).max()))
    assert 0.495 * 44100 <= onset <= 0.52 * 44100  # the note starts where the MIDI says (TiMidity drops silence otherwise)
    assert np.abs(audio[: int(0.49 * 44100)]).max() < 1e-4


@needs_heldout
def test_heldout_source_without_the_instrument_is_refused():
    from fewshot_sep.data.heldout_sources import render_heldout

    with pytest.raises(UserError, match="has no sound for instrument 3"):
        render_heldout("freepats", 3, np.zeros((0, 4)), 100)


def test_texture_generator_is_deterministic_and_doubles_unisons():
    from fewshot_sep.data.textures import TEXTURE_ROLES, generate_texture_parts

    parts_spec = [(128, "drums"), (33, "bass"), (89, "pad"), (46, "arp"), (25, "riff"), (73, "lead"), (40, "unison")]
    assert {r for _, r in parts_spec} == set(TEXTURE_ROLES)
    a, facts = generate_texture_parts(np.random.default_rng(3), parts_spec, 20.0)
    b, _ = generate_texture_parts(np.random.default_rng(3), parts_spec, 20.0)
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa.notes, pb.notes)
        assert len(pa.notes) >= 4, pa.role
    lead, unison = a[5].notes, a[6].notes
    np.testing.assert_allclose(lead[:, 0], unison[:, 0], atol=0.02)  # same rhythm (timing jitter only)
    assert set(((unison[:, 2] - lead[:, 2]) % 12).astype(int)) == {0}  # octaves apart
    assert {"tempo_qpm", "meter", "tonic"} <= set(facts)
    with pytest.raises(ValueError, match="texture role 'solo' is unknown"):
        generate_texture_parts(np.random.default_rng(0), [(40, "solo")], 10.0)


def test_production_keeps_stems_summing_to_the_mix():
    pytest.importorskip("pedalboard")
    from fewshot_sep.data.production import apply_stem_chain, bus_gain, draw_bus, draw_stem_chain

    rng = np.random.default_rng(0)
    n = 3 * 44100
    stems = [(0.2 * np.sin(2 * np.pi * f * np.arange(n) / 44100)).astype(np.float32) for f in (110, 440, 1320)]
    chains = [draw_stem_chain(rng, inst) for inst in (33, 29, 0)]
    processed = [apply_stem_chain(c, x) for c, x in zip(chains, stems)]
    assert all(p.shape == (2, n) and p.dtype == np.float32 for p in processed)
    np.testing.assert_array_equal(processed[0], apply_stem_chain(chains[0], stems[0]))  # deterministic
    bus = draw_bus(rng)
    mix = sum(processed)
    gain = bus_gain(bus, mix)
    assert gain.shape == (n,) and 0 < gain.min() <= gain.max()
    out = [p * gain for p in processed]
    np.testing.assert_allclose(sum(out), mix * gain, atol=1e-6)  # references still sum to the mixture
    peak_db = 20 * np.log10(np.abs(mix * gain).max())
    assert peak_db < bus["limiter_ceiling_db"] + 1.5  # the limiter holds the peak near its ceiling


def test_distortion_only_on_guitars_and_synths():
    from fewshot_sep.data.production import draw_stem_chain

    rng = np.random.default_rng(1)
    assert not any("distortion" in draw_stem_chain(rng, inst) for inst in (0, 40, 73, 128) for _ in range(30))
    assert any("distortion" in draw_stem_chain(rng, 29) for _ in range(30))


@pytest.mark.slow
@needs_heldout
def test_render_robust_set_twins_every_part(tmp_path):
    from fewshot_sep.data.manifest import read_manifest
    from fewshot_sep.data.robust_set import render_robust_set

    manifest = render_robust_set(tmp_path / "robust", seed=1, workers=1,
                                 counts={"generator": 1, "texture": 1, "music21-heldout": 0}, progress=False)
    rows = read_manifest(manifest.parent)
    by_part: dict = {}
    for r in rows:
        by_part.setdefault((r["work_id"], r["part_index"]), []).append(r)
        assert r["split"] in ("test", "test_unseen")
    assert {r["source"].split(":")[0] for r in rows} == {"generator", "texture"}
    for twins in by_part.values():
        assert len(twins) == 2 and twins[0]["soundfont"] == "fluidr3"
        assert twins[1]["soundfont"] in ("freepats", "avldrums-blackpearl", "avldrums-redzeppelin")
        assert twins[0]["instrument"] == twins[1]["instrument"] and twins[0]["num_samples"] == twins[1]["num_samples"]
    again = render_robust_set(tmp_path / "robust", seed=1, workers=1,
                              counts={"generator": 1, "texture": 1, "music21-heldout": 0}, progress=False)
    assert read_manifest(again.parent) == rows  # resumed: nothing re-rendered, same rows
    with pytest.raises(UserError, match="was rendered with"):
        render_robust_set(tmp_path / "robust", seed=2, workers=1,
                          counts={"generator": 1, "texture": 1, "music21-heldout": 0}, progress=False)
