"""Every stem's manifest label is the program it was rendered with.

The check re-renders each stem from its work spec with the instrument the
manifest claims and compares PCM sample for sample; a wrong label (another
program or soundfont) gives different audio, which the second test confirms.
"""

import numpy as np
import soundfile as sf

from fewshot_sep.data.manifest import read_manifest
from fewshot_sep.data.render import build_parts, load_work_spec, stem_audio
from fewshot_sep.data.soundfonts import soundfont_path

from data_helpers import tiny_render


def _rerender(folder, row, instrument=None, soundfont=None):
    spec = load_work_spec(folder, row["work_id"])
    parts, _, _ = build_parts(spec, folder / "midi_cache")
    part = parts[row["part_index"]]
    _, pcm = stem_audio(soundfont_path(soundfont or row["soundfont"]), instrument if instrument is not None else row["instrument"],
                        part.notes, row["num_samples"])
    return part, pcm


def test_every_stem_matches_its_label(tmp_path_factory):
    folder = tiny_render(tmp_path_factory)
    rows = read_manifest(folder)
    assert len(rows) >= 3
    for row in rows:
        part, pcm = _rerender(folder, row)
        assert part.instrument == row["instrument"]
        stored = sf.read(str(folder / row["path"]), dtype="int16")[0]
        assert np.array_equal(stored, pcm), row["path"]


def test_a_wrong_label_would_be_detected(tmp_path_factory):
    folder = tiny_render(tmp_path_factory)
    row = next(r for r in read_manifest(folder) if not r["is_drum"] and not r["silent"])
    stored = sf.read(str(folder / row["path"]), dtype="int16")[0]
    wrong = (row["instrument"] + 1) % 120
    _, pcm = _rerender(folder, row, instrument=wrong)
    assert not np.array_equal(stored, pcm)
    other_sf = "timgm6mb" if row["soundfont"] == "fluidr3" else "fluidr3"
    _, pcm = _rerender(folder, row, soundfont=other_sf)
    assert not np.array_equal(stored, pcm)
