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


def _sisdr(est, ref):
    scale = float(est @ ref) / float(ref @ ref)
    err = est - scale * ref
    return 10 * np.log10(float((scale * ref) @ (scale * ref)) / float(err @ err))


def test_pack_then_unpack_gives_the_trainer_the_decoded_train_stems(tmp_path):
    from fewshot_sep.data.episodes import EpisodeSampler, MemoryStore
    from fewshot_sep.data.manifest import read_manifest
    from fewshot_sep.train.config import load_config
    from fewshot_sep.train.loop import build_sources, train_episode_config

    script = load_script("device_data")
    data = synthetic_dataset(tmp_path / "data", n_works=12, seconds=4.0)
    config_path = _config(tmp_path, tmp_path / "device")
    assert script.main(["pack", "--data", str(data), "--config", str(config_path), "--out", str(tmp_path / "dev"),
                        "--parts", "2", "--part-mib", "1", "--workers", "1"]) == 0
    parts = sorted((tmp_path / "dev").glob("part-*"))
    assert [p.name for p in parts] == ["part-a", "part-b"]
    full = read_manifest(data)
    packed = [json.loads((p / "rows.json").read_text())for p in parts]
    carried = [r["row"] for rows in packed for r in rows]
    assert len(carried) == len(set(carried)) > 0            # no stem in two parts
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
    script = load_script("device_data")
    data = synthetic_dataset(tmp_path / "data", n_works=12, seconds=4.0)
    config_path = _config(tmp_path, tmp_path / "device")
    script.main(["pack", "--data", str(data), "--config", str(config_path), "--out", str(tmp_path / "dev"),
                 "--parts", "2", "--part-mib", "1", "--workers", "1"])
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
