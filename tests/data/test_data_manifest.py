"""The manifest validator accepts a real render and catches broken ones."""

import csv

from fewshot_sep.data.manifest import decode_activity, encode_activity, read_manifest, validate_manifest, write_manifest

import numpy as np

from data_helpers import tiny_render


def test_rendered_manifest_validates(tmp_path_factory):
    folder = tiny_render(tmp_path_factory)
    assert validate_manifest(folder) == []
    rows = read_manifest(folder)
    assert all(r["num_samples"] == rows[0]["num_samples"] for r in rows if r["work_id"] == rows[0]["work_id"])


def test_validator_catches_problems(tmp_path_factory, tmp_path):
    import shutil

    src = tiny_render(tmp_path_factory)
    folder = tmp_path / "copy"
    shutil.copytree(src, folder)
    rows = read_manifest(folder)
    rows[0]["split"] = "train" if rows[0]["split"] != "train" else "test"  # wrong split
    rows[1]["program"] = 7 if rows[1]["program"] != 7 else 8  # label mismatch
    (folder / rows[2]["path"]).unlink()  # missing audio
    write_manifest(folder / "manifest.csv", rows)
    problems = validate_manifest(folder)
    text = "\n".join(problems)
    assert rows[0]["path"] in text and "split" in text
    assert rows[1]["path"] in text and "program" in text
    assert rows[2]["path"] in text and "missing" in text
    with open(folder / "manifest.csv", "w", newline="") as fh:
        csv.writer(fh).writerow(["path", "instrument"])
    assert "lacks columns" in validate_manifest(folder)[0]


def test_activity_roundtrip():
    rng = np.random.default_rng(0)
    for n in (1, 7, 8, 9, 333):
        bits = rng.random(n) < 0.5
        assert np.array_equal(decode_activity(encode_activity(bits), n), bits)
