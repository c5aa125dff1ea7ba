"""scripts/device_data.py: pack a dataset's train works into Vorbis parts, unpack them into a
dataset folder whose memory-mapped stem array the trainer loads (data.memstore_cache)."""

import json

import numpy as np
import pytest
import soundfile as sf

from data_helpers import synthetic_dataset
from script_helpers import load_script

torch = pytest.importorskip("torch")


def _config(tmp_path, root):
    from train_test_helpers import REPO

    text = (REPO / "configs" / "release-stage7.yaml").read_text(encoding="utf-8")
    path = tmp_path / "stage7.yaml"
    path.write_text(text.replace("root: data/device", f"root: {root}"), encoding="utf-8")
    return path


def _packed(tmp_path):
    """The script, a synthetic dataset, a stage-7 config writing to tmp_path/device, and the
    dataset packed into tmp_path/dev/part-a, part-b (1 MiB each)."""
    script = load_script("device_data")
    data = synthetic_dataset(tmp_path / "data", n_works=12, seconds=4.0)
    config_path = _config(tmp_path, tmp_path / "device")
    assert script.main(["pack", "--data", str(data), "--config", str(config_path), "--out", str(tmp_path / "dev"),
                        "--parts", "2", "--part-mib", "1", "--workers", "1"]) == 0
    return script, data, config_path


def _sisdr(est, ref):
    scale = float(est @ ref) / float(ref @ ref)
    err = est - scale * ref
    return 10 * np.log10(float((scale * ref) @ (scale * ref)) / float(err @ err))


def test_pack_then_unpack_gives_the_trainer_the_decoded_train_stems(tmp_path):
    from fewshot_sep.data.episodes import EpisodeSampler, MemoryStore
    from fewshot_sep.data.manifest import read_manifest
    from fewshot_sep.train.config import load_config
    from fewshot_sep.train.loop import build_sources, train_episode_config

    script, data, config_path = _packed(tmp_path)
    parts = sorted((tmp_path / "dev").glob("part-*"))
    assert [p.name for p in parts] == ["part-a", "part-b"]
    full = read_manifest(data)
    packed = [json.loads((p / "rows.json").read_text())for p in parts]
    keys = [r["row"] for rows in packed for r in rows]
    assert len(keys) == len(set(keys)) > 0                  # no stem in two parts
    assert all(k.startswith("0-") for k in keys)            # "<dataset>-<manifest row>"
    carried = [int(k.split("-")[1]) for k in keys]
    assert all(full[i]["split"] == "train" for i in carried)  # only what the train sampler reads
    works = [{r["work_id"] for r in rows} for rows in packed]
    assert not works[0] & works[1]                           # whole works per part

    assert script.main(["unpack", *map(str, parts), "--config", str(config_path), "--out",
                        str(tmp_path / "device"), "--workers", "1"]) == 0
    rows = read_manifest(tmp_path / "device")
    assert sorted(r["path"] for r in rows) == sorted(full[i]["path"] for i in carried)
    config = load_config(config_path)
    sampler = EpisodeSampler(tmp_path / "device", train_episode_config(config), seed=0)
    wanted = sampler.needed_stems()
    assert MemoryStore.cache_path(tmp_path / "device", rows, wanted).is_file()

    # The trainer's source memory-maps that array (no FLAC there) and reads the decoded audio.
    source, val = build_sources(config, progress=False)
    assert val is None and isinstance(source.store.audio, np.memmap)
    for i in np.flatnonzero(wanted)[:4]:
        original, _ = sf.read(str(data / rows[i]["path"]), dtype="float32")
        decoded = np.zeros(rows[i]["num_samples"], np.float32)
        source.store.read_into(int(i), 0, decoded)
        assert _sisdr(decoded, original) > 15.0
    assert source.episode(0).mixture.shape == (44100,)


def test_unpack_uses_a_single_part_on_its_own(tmp_path):
    script, _, config_path = _packed(tmp_path)
    assert script.main(["unpack", str(tmp_path / "dev" / "part-b"), "--config", str(config_path),
                        "--out", str(tmp_path / "device"), "--workers", "1"]) == 0
    from fewshot_sep.data.manifest import read_manifest

    rows = read_manifest(tmp_path / "device")
    part_b = json.loads((tmp_path / "dev" / "part-b" / "rows.json").read_text())
    assert len(rows) == len(part_b)


def test_pack_respects_the_part_size(tmp_path):
    script = load_script("device_data")
    data = synthetic_dataset(tmp_path / "data", n_works=12, seconds=4.0)
    config_path = _config(tmp_path, tmp_path / "device")
    limit_mib = 0.05
    script.main(["pack", "--data", str(data), "--config", str(config_path), "--out", str(tmp_path / "dev"),
                 "--parts", "2", "--part-mib", str(limit_mib), "--workers", "1"])
    for part in (tmp_path / "dev").glob("part-*"):
        size = sum(f.stat().st_size for f in part.glob("*.ogg"))
        assert 0 < size <= limit_mib * 2 ** 20
    # fewer works fit than the dataset has
    carried = sum(len(json.loads((p / "rows.json").read_text())) for p in (tmp_path / "dev").glob("part-*"))
    assert carried < 9 * 4


def _renamed_works(folder, prefix):
    """Give a synthetic dataset's works other ids (as a render with another seed would)."""
    from fewshot_sep.data.manifest import read_manifest, write_manifest

    rows = read_manifest(folder)
    write_manifest(folder / "manifest.csv", [{**r, "work_id": prefix + r["work_id"]} for r in rows])
    return folder


def test_pack_merges_several_datasets_and_refuses_shared_works(tmp_path):
    from fewshot_sep.data.manifest import read_manifest

    script = load_script("device_data")
    first = synthetic_dataset(tmp_path / "one", n_works=12, seconds=4.0, seed=0)
    second = _renamed_works(synthetic_dataset(tmp_path / "two", n_works=12, seconds=4.0, seed=1), "other-")
    config_path = _config(tmp_path, tmp_path / "device")
    assert script.main(["pack", "--data", str(first), "--data", str(second), "--config", str(config_path),
                        "--out", str(tmp_path / "dev"), "--parts", "2", "--part-mib", "1", "--workers", "1"]) == 0
    keys = [r["row"] for p in (tmp_path / "dev").glob("part-*")
            for r in json.loads((p / "rows.json").read_text())]
    assert {k.split("-")[0] for k in keys} == {"0", "1"}
    assert script.main(["unpack", *map(str, sorted((tmp_path / "dev").glob("part-*"))), "--config",
                        str(config_path), "--out", str(tmp_path / "device"), "--workers", "1"]) == 0
    rows = read_manifest(tmp_path / "device")
    expected = [r for d in (first, second) for r in read_manifest(d) if r["split"] == "train"]
    assert sorted((r["work_id"], r["path"]) for r in rows) == sorted((r["work_id"], r["path"]) for r in expected)

    # the same works in two datasets would mix two renders of a piece: refused, naming the work
    with pytest.raises(SystemExit, match="work id .synthwork-00. is in both"):
        script.main(["pack", "--data", str(first), "--data", str(synthetic_dataset(tmp_path / "three", seconds=4.0)),
                     "--config", str(config_path), "--out", str(tmp_path / "dev2"), "--workers", "1"])


def test_decode_only_calls_fill_a_cache_that_the_final_unpack_reuses(tmp_path):
    from fewshot_sep.data.episodes import EpisodeSampler, MemoryStore
    from fewshot_sep.data.manifest import read_manifest
    from fewshot_sep.train.config import load_config
    from fewshot_sep.train.loop import train_episode_config

    script, _, config_path = _packed(tmp_path)
    part_a, part_b = sorted((tmp_path / "dev").glob("part-*"))
    # call 1 carried part a only: decode it into the cache, write no stem array
    assert script.main(["unpack", str(part_a), "--config", str(config_path), "--out", str(tmp_path / "device"),
                        "--workers", "1", "--decode-only"]) == 0
    cached = {p.stem for p in (tmp_path / "device" / "decoded").glob("*.npy")}
    assert cached == {r["row"] for r in json.loads((part_a / "rows.json").read_text())}
    assert not (tmp_path / "device" / "memstore").exists()
    assert not (tmp_path / "device" / "manifest.csv").exists()
    # a cached stem is read back, not decoded again: mark one and find the mark in the array
    marked = sorted(cached)[0]
    np.save(tmp_path / "device" / "decoded" / f"{marked}.npy",
            np.full(np.load(tmp_path / "device" / "decoded" / f"{marked}.npy").shape, 30000, np.int16))
    assert script.main(["unpack", str(part_a), str(part_b), "--config", str(config_path),
                        "--out", str(tmp_path / "device"), "--workers", "1"]) == 0
    rows = read_manifest(tmp_path / "device")
    wanted = EpisodeSampler(tmp_path / "device", train_episode_config(load_config(config_path)), 0).needed_stems()
    audio = np.load(MemoryStore.cache_path(tmp_path / "device", rows, wanted))
    assert np.count_nonzero(audio == 30000) == rows[0]["num_samples"]  # exactly the marked stem
    assert len({p.stem for p in (tmp_path / "device" / "decoded").glob("*.npy")}) == int(wanted.sum())
