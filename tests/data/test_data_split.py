"""The fixed split of DESIGN.md: rules, stable hashing, and that renders respect it."""

import pytest

from fewshot_sep.data import gm
from fewshot_sep.data.manifest import read_manifest
from fewshot_sep.data.plan import plan_works
from fewshot_sep.data.split import (UNSEEN_INSTRUMENTS, instrument_status, piece_bucket, piece_split, split_of)
from fewshot_sep.utils.errors import UserError

from data_helpers import tiny_render


def test_unseen_and_excluded_sets_match_design():
    names = {gm.PROGRAM_NAMES[p] for p in UNSEEN_INSTRUMENTS if p < 128}
    assert {"Honky-tonk Piano", "Harpsichord", "Fiddle", "Woodblock", "Synth Drum", "Bassoon"} <= names
    assert len([p for p in UNSEEN_INSTRUMENTS if p < 128]) == 30
    assert instrument_status(128 + 25) == "unseen" and instrument_status(128 + 40) == "unseen"
    assert instrument_status(128) == "seen" and instrument_status(0) == "seen"
    assert all(instrument_status(p) == "excluded" for p in range(120, 128))
    assert split_of(3, "anything") == "test_unseen"
    assert split_of(125, "anything") == "excluded"
    with pytest.raises(UserError):
        split_of(128 + 99, "x")


def test_piece_split_is_stable_and_proportioned():
    # SHA-256 based: these values must never change between runs or Python versions.
    assert piece_bucket("gen0-00000") == piece_bucket("gen0-00000")
    assert [piece_split(f"gen0-{i:05d}") for i in range(5)] == [piece_split(f"gen0-{i:05d}") for i in range(5)]
    counts = {"train": 0, "val": 0, "test": 0}
    for i in range(5000):
        counts[piece_split(f"w{i}")] += 1
    assert 0.77 < counts["train"] / 5000 < 0.83
    assert 0.08 < counts["val"] / 5000 < 0.12 and 0.08 < counts["test"] / 5000 < 0.12
    assert split_of(0, "w1") == piece_split("w1")


def test_plan_puts_unseen_instruments_only_in_test_pieces():
    specs = plan_works(0, 6.0, ("fluidr3", "timgm6mb"), [f"bach/fake{i}.mxl" for i in range(200)])
    with_unseen = 0
    for spec in specs:
        if any(instrument_status(i) == "unseen" for i, _ in spec.instruments):
            with_unseen += 1
            assert piece_split(spec.work_id) == "test", spec.work_id
        assert all(instrument_status(i) != "excluded" for i, _ in spec.instruments)
    assert with_unseen > 5
    planned = {i for s in specs for i, _ in s.instruments}
    seen = {i for i in gm.ALL_INSTRUMENTS if instrument_status(i) == "seen"}
    assert seen <= planned, f"seen instruments never planned: {sorted(seen - planned)}"


def test_rendered_rows_respect_split(tmp_path_factory):
    rows = read_manifest(tiny_render(tmp_path_factory))
    assert rows
    for r in rows:
        assert r["split"] == split_of(r["instrument"], r["work_id"])
        if r["split"] in ("train", "val"):
            assert instrument_status(r["instrument"]) == "seen"
            assert piece_split(r["work_id"]) == r["split"]


def test_evaluation_only_plan_is_all_test_pieces():
    specs = plan_works(1, 1.0, ("timgm6mb",), [], unseen_share=1.0, corpus_share=0.0)
    assert specs and all(piece_split(s.work_id) == "test" for s in specs)
    assert all(any(instrument_status(i) == "unseen" for i, _ in s.instruments) for s in specs)


def test_plan_work_ids_are_unique_even_with_duplicate_scores():
    paths = [f"bach/x{i}.mxl" for i in range(30)] + [f"bach/x{i}.krn" for i in range(30)]
    specs = plan_works(2, 3.0, ("timgm6mb",), paths)
    ids = [s.work_id for s in specs]
    assert len(ids) == len(set(ids)) and any(i.startswith("m21:") for i in ids)
