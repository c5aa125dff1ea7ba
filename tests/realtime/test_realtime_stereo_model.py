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


def test_silence_and_warm_up_pass_through_the_exported_pan_statistics(stereo_export):
    """All-zero bins (digital silence, the engine's warm-up) give the torch model's result: the
    exported graph must not divide 0 by 0 into an out-of-range histogram step."""
    model, folder = stereo_export
    files = ModelFiles.load(folder)
    vector = np.random.default_rng(8).standard_normal(files.conditioning_dim).astype(np.float32)
    engine = StreamingSeparator(files, sample_rate=44100, num_channels=2, conditioning=vector, ramp_seconds=0.0)
    engine.warm_up(256)
    assert np.abs(engine.process_block(np.zeros((2, 2048), np.float32))).max() == 0.0
    x, _ = _signals(9, n=8000)
    x[:, :3000] = 0.0   # silence, then sound in one channel only, then both
    x[1, 3000:5000] = 0.0
    engine.reset()
    streamed = _stream(engine, np.pad(x, ((0, 0), (0, LATENCY))), 256)[:, LATENCY:]
    reference = np.stack([_torch_reference(model, x[c], x[1 - c], vector) for c in range(2)])
    np.testing.assert_allclose(streamed, reference, atol=2e-4)
    assert engine.nonfinite_outputs == 0


def test_shared_stereo_reads_the_mid_signal_on_both_planes(stereo_export):
    import torch

    from fewshot_sep.realtime.stft import istft, stft

    model, folder = stereo_export
    files = ModelFiles.load(folder)
    x, _ = _signals(10)
    vector = np.random.default_rng(11).standard_normal(files.conditioning_dim).astype(np.float32)
    engine = StreamingSeparator(files, sample_rate=44100, num_channels=2, conditioning=vector, ramp_seconds=0.0,
                                stereo="shared")
    streamed = _stream(engine, np.pad(x, ((0, 0), (0, LATENCY))), 512)[:, LATENCY:]
    specs = [stft(np.pad(c, (0, LATENCY))) for c in x]
    mid = np.abs(0.5 * (specs[0] + specs[1])).astype(np.float32)
    with torch.no_grad():
        mask = model.separator(torch.from_numpy(np.stack([mid, mid])[None]), torch.from_numpy(vector[None]))[0]
    mask = mask[0, 0].numpy()
    reference = np.stack([istft(s * mask, x.shape[1] + LATENCY)[LATENCY:] for s in specs])
    np.testing.assert_allclose(streamed, reference, atol=2e-4)


def test_filling_the_second_plane_swaps_the_pair_and_allocates_nothing():
    import tracemalloc

    from fewshot_sep.realtime.separator_core import fill_other_plane

    rng = np.random.default_rng(12)
    pair = np.zeros((2, 2, 513, 16), np.float32)  # 16 frames: a temporary would be 64 KiB
    pair[:, 0] = rng.random((2, 513, 16))
    single = np.zeros((1, 2, 513, 16), np.float32)
    single[:, 0] = rng.random((1, 513, 16))
    fill_other_plane(pair)
    fill_other_plane(single)
    np.testing.assert_array_equal(pair[0, 1], pair[1, 0])
    np.testing.assert_array_equal(pair[1, 1], pair[0, 0])
    np.testing.assert_array_equal(single[0, 1], single[0, 0])
    tracemalloc.start()
    try:
        for _ in range(20):
            fill_other_plane(pair)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024


def test_a_preset_fade_is_the_same_in_any_block_size(stereo_export):
    """A fade runs one call per frame; the second plane is filled for those calls too."""
    _, folder = stereo_export
    files = ModelFiles.load(folder)
    rng = np.random.default_rng(13)
    a, b = (rng.standard_normal(files.conditioning_dim).astype(np.float32) for _ in range(2))
    x, _ = _signals(14, n=48 * 256)
    outputs = []
    for block in (256, 1024, 4096):
        engine = StreamingSeparator(files, sample_rate=44100, num_channels=2, conditioning=a, ramp_seconds=0.0)
        pieces = []
        for start in range(0, x.shape[1], block):
            if start == 16 * 256:
                engine.set_conditioning(b, crossfade_seconds=8 * 256 / 44100)
            pieces.append(engine.process_block(x[:, start : start + block]))
        outputs.append(np.concatenate(pieces, axis=1))
    np.testing.assert_allclose(outputs[1], outputs[0], atol=2e-5)
    np.testing.assert_allclose(outputs[2], outputs[0], atol=2e-5)


def test_offline_calls_too_long_for_the_pan_statistics_are_refused_by_name(stereo_export):
    from fewshot_sep.realtime.engine import MAX_TWO_PLANE_CHUNK_FRAMES
    from fewshot_sep.utils.errors import UserError

    _, folder = stereo_export
    files = ModelFiles.load(folder)
    StreamingSeparator(files, num_channels=2, offline_chunk_frames=MAX_TWO_PLANE_CHUNK_FRAMES)
    with pytest.raises(UserError, match=f"offline_chunk_frames 5000 is too large.*1..{MAX_TWO_PLANE_CHUNK_FRAMES}"):
        StreamingSeparator(files, num_channels=2, offline_chunk_frames=5000)
