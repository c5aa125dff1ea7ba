"""The engine runs a separator that reads each channel with the other one (card
``separator.input_planes`` 2: ``model.stereo_input``, here with pan statistics): every
channel's mask is the torch model's on (this channel, the other one), in any block size and
through the offline path, with the latency of any causal model; a mono or mid signal is its
own other channel."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from fewshot_sep.realtime.engine import StreamingSeparator
from fewshot_sep.realtime.model_files import ModelFiles

LATENCY = 1023


@pytest.fixture(scope="module")
def stereo_export(tmp_path_factory):
    """``(torch model, model folder)``: the tiny export-test model reading both channels."""
    pytest.importorskip("torch")
    from export_helpers import TINY_CONFIG
    from model_test_config import perturbed_model

    from fewshot_sep.export import export_model

    config = copy.deepcopy(TINY_CONFIG)
    config["model"].update(stereo_input=True, fine_head=6, pan_memory_seconds=0.1)
    model = perturbed_model(config, seed=3, scale=0.2)
    out = tmp_path_factory.mktemp("stereo_model") / "model"
    export_model(model, out, config=config, name="tiny-stereo", show_progress=False)
    return model, out


def _stream(engine: StreamingSeparator, x: np.ndarray, block: int) -> np.ndarray:
    return np.concatenate([engine.process_block(x[:, i : i + block]) for i in range(0, x.shape[1], block)], axis=1)


def _torch_reference(model, x: np.ndarray, other: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """The torch separator on (``x [n]``, ``other [n]``) in one pass: the estimate ``[n]``,
    delay-compensated."""
    import torch

    from fewshot_sep.realtime.stft import istft, stft

    padded, other_padded = (np.pad(s, (0, LATENCY)) for s in (x, other))
    spec = stft(padded)
    planes = np.stack([np.abs(spec), np.abs(stft(other_padded))])[None].astype(np.float32)
    with torch.no_grad():
        mask = model.separator(torch.from_numpy(planes), torch.from_numpy(vector[None]))[0][0, 0].numpy()
    return istft(spec * mask, padded.size)[LATENCY : LATENCY + x.size]


def _signals(seed: int, n: int = 9000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((2, n))
    # two sources panned apart, so the channels differ bin by bin
    x = np.stack([0.9 * source[0] + 0.2 * source[1], 0.3 * source[0] + 0.8 * source[1]]) * 0.1
    return x.astype(np.float32), source.astype(np.float32)


@pytest.mark.parametrize("block", [300, 2048])
def test_each_channel_is_separated_with_the_other_one(stereo_export, block):
    model, folder = stereo_export
    files = ModelFiles.load(folder)
    assert files.input_planes == 2 and files.latency_samples == LATENCY
    x, _ = _signals(0)
    vector = np.random.default_rng(1).standard_normal(files.conditioning_dim).astype(np.float32)
    engine = StreamingSeparator(files, sample_rate=44100, num_channels=2, conditioning=vector, ramp_seconds=0.0)
    streamed = _stream(engine, np.pad(x, ((0, 0), (0, LATENCY))), block)[:, LATENCY:]
    reference = np.stack([_torch_reference(model, x[c], x[1 - c], vector) for c in range(2)])
    np.testing.assert_allclose(streamed, reference, atol=2e-4)
    # the other channel matters: reading each channel alone gives another result
    alone = _torch_reference(model, x[0], x[0], vector)
    assert np.abs(alone - reference[0]).max() > 1e-3
    # the offline path (which must not split the channels over threads) gives the same
    offline = StreamingSeparator(files, sample_rate=44100, num_channels=2, conditioning=vector, ramp_seconds=0.0)
    np.testing.assert_allclose(offline.process_offline(x, align=True), streamed, atol=2e-4)


def test_a_mono_stream_is_its_own_other_channel(stereo_export):
    model, folder = stereo_export
    files = ModelFiles.load(folder)
    x, _ = _signals(2)
    vector = np.random.default_rng(3).standard_normal(files.conditioning_dim).astype(np.float32)
    engine = StreamingSeparator(files, sample_rate=44100, num_channels=1, conditioning=vector, ramp_seconds=0.0)
    streamed = _stream(engine, np.pad(x[:1], ((0, 0), (0, LATENCY))), 512)[:, LATENCY:]
    np.testing.assert_allclose(streamed[0], _torch_reference(model, x[0], x[0], vector), atol=2e-4)
    # shared stereo: one mask from the mid signal, read as a mono signal
    shared = StreamingSeparator(files, sample_rate=44100, num_channels=2, conditioning=vector, ramp_seconds=0.0,
                                stereo="shared")
    out = shared.process_offline(x, align=True)
    assert np.isfinite(out).all() and np.abs(out).max() > 1e-3


def test_four_channels_are_read_as_pairs(stereo_export):
    from fewshot_sep.realtime.multichannel import make_engine

    _, folder = stereo_export
    files = ModelFiles.load(folder)
    x, _ = _signals(4, n=6000)
    wide = np.concatenate([x, x[::-1] * 0.5])
    vector = np.random.default_rng(5).standard_normal(files.conditioning_dim).astype(np.float32)
    engine = make_engine(4, model=files, sample_rate=44100, conditioning=vector, ramp_seconds=0.0)
    out = _stream(engine, wide, 512)
    for pair in (slice(0, 2), slice(2, 4)):
        alone = StreamingSeparator(files, sample_rate=44100, num_channels=2, conditioning=vector, ramp_seconds=0.0)
        np.testing.assert_allclose(out[pair], _stream(alone, wide[pair], 512), atol=1e-6)


def test_a_card_with_an_unknown_plane_count_is_refused_by_name(stereo_export, tmp_path):
    import json
    import shutil

    from fewshot_sep.utils.errors import UserError

    _, folder = stereo_export
    broken = tmp_path / "model"
    shutil.copytree(folder, broken)
    card = json.loads((broken / "model_card.json").read_text())
    card["separator"]["input_planes"] = 3
    (broken / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="separator.input_planes 3 is invalid: use 1"):
        ModelFiles.load(broken)


def test_the_evaluation_gives_a_stereo_export_both_channels(stereo_export):
    """``fewshot-onnx`` / ``fewshot-stream`` (the harness's systems) read a stereo mixture whole."""
    from fewshot_sep.eval.systems import OnnxFewShot

    model, folder = stereo_export
    x, _ = _signals(6, n=7000)
    for block in (None, 256):
        system = OnnxFewShot(folder, block_size=block)
        assert system.stereo_input
        vector = np.random.default_rng(7).standard_normal(system.model.conditioning_dim).astype(np.float32)
        reference = np.stack([_torch_reference(model, x[c], x[1 - c], vector) for c in range(2)])
        np.testing.assert_allclose(system.separate_stereo(x, vector), reference, atol=2e-4)
        np.testing.assert_allclose(system.separate(x[0], vector), _torch_reference(model, x[0], x[0], vector),
                                   atol=2e-4)
