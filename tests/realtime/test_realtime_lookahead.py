"""The engine runs look-ahead (studio) models with an exact latency.

A model that looks L frames ahead returns, at call frame t, the mask of spectrum
frame t - L; the engine holds the spectra back L frames to match, so the output is
the input delayed by ``n_fft - 1 + L * hop`` samples (plus the resamplers at other
rates), streamed in any block size, and equal to the torch model's aligned masks.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from fewshot_sep.realtime.engine import StreamingSeparator
from fewshot_sep.realtime.model_files import ModelFiles

LOOKAHEAD = 3
STUDIO_LATENCY = 1023 + LOOKAHEAD * 256


@pytest.fixture(scope="module")
def lookahead_identity(tmp_path_factory):
    """The identity double (mask = 1) with a card that declares L look-ahead frames."""
    from model_doubles import make_model_folder

    folder = make_model_folder(tmp_path_factory.mktemp("lookahead"), kind="identity",
                               latency_samples=STUDIO_LATENCY, lookahead_frames=LOOKAHEAD)
    return ModelFiles.load(folder)


def _stream(engine: StreamingSeparator, x: np.ndarray, block: int) -> np.ndarray:
    return np.concatenate([engine.process_block(x[:, i : i + block]) for i in range(0, x.shape[1], block)], axis=1)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("block", [1, 65, 512])
def test_impulse_comes_out_latency_samples_late(lookahead_identity, channels, block):
    engine = StreamingSeparator(lookahead_identity, sample_rate=44100, num_channels=channels)
    assert engine.latency_samples == STUDIO_LATENCY
    n = 5000 if block == 1 else 12000
    x = np.zeros((channels, n), dtype=np.float32)
    x[0, 1500] = 1.0
    x[-1, 2500] = -0.5
    y = _stream(engine, x, block)
    expected = np.zeros_like(x)
    expected[:, STUDIO_LATENCY:] = x[:, :-STUDIO_LATENCY]
    np.testing.assert_allclose(y, expected, atol=1e-6)
    # the offline path gives the same, and align=True puts the impulse back in place
    np.testing.assert_allclose(engine.process_offline(x), y, atol=1e-6)
    np.testing.assert_allclose(engine.process_offline(x, align=True), x, atol=1e-6)


@pytest.mark.parametrize("rate", [22050, 48000, 96000])
def test_impulse_in_place_at_other_rates(lookahead_identity, rate):
    engine = StreamingSeparator(lookahead_identity, sample_rate=rate, num_channels=1)
    latency = engine.latency_samples
    assert STUDIO_LATENCY * rate / 44100 < latency < STUDIO_LATENCY * rate / 44100 + 0.007 * rate
    x = np.zeros((1, latency + rate // 2), dtype=np.float32)
    x[0, 3000] = 1.0
    y = engine.process_offline(x, align=True)
    assert int(np.argmax(np.abs(y[0]))) == 3000


@pytest.fixture(scope="module")
def tiny_studio_export(tmp_path_factory):
    """``(torch model, model folder)``: the tiny export-test model with L look-ahead frames."""
    torch = pytest.importorskip("torch")
    from export_helpers import TINY_CONFIG

    from fewshot_sep.export import export_model
    from fewshot_sep.model import build_model

    config = copy.deepcopy(TINY_CONFIG)
    config["model"].update(lookahead_frames=LOOKAHEAD, fine_head=6)
    torch.manual_seed(0)
    model = build_model(config)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.2 * torch.randn(param.shape, generator=gen))
    model.eval()
    out = tmp_path_factory.mktemp("studio") / "model"
    export_model(model, out, config=config, name="tiny-studio", show_progress=False)
    return model, out


def test_engine_matches_the_aligned_torch_masks(tiny_studio_export):
    torch = pytest.importorskip("torch")
    from fewshot_sep.realtime.stft import istft, stft

    model, folder = tiny_studio_export
    files = ModelFiles.load(folder)
    assert files.lookahead_frames == LOOKAHEAD and files.latency_samples == STUDIO_LATENCY
    rng = np.random.default_rng(0)
    vector = rng.standard_normal(files.conditioning_dim).astype(np.float32)
    x = (0.1 * rng.standard_normal((1, 9000))).astype(np.float32)
    engine = StreamingSeparator(files, sample_rate=44100, num_channels=1, mode="isolate", mix=1.0,
                                conditioning=vector, ramp_seconds=0.0)
    streamed = _stream(engine, np.pad(x, ((0, 0), (0, STUDIO_LATENCY))), 300)[:, STUDIO_LATENCY:]
    # torch reference: masks aligned with their frames, the stream's end padded with silence
    padded = np.pad(x[0], (0, 1023 + LOOKAHEAD * 256))
    spec = stft(padded)
    with torch.no_grad():
        mask = model.separator.aligned_mask(torch.from_numpy(np.abs(spec)[None, None].astype(np.float32)),
                                            torch.from_numpy(vector[None]))[0, 0].numpy()
    reference = istft(spec * mask, padded.size)[1023 : 1023 + x.shape[1]]
    np.testing.assert_allclose(streamed[0], reference, atol=2e-4)
    assert np.abs(reference).max() > 1e-2  # the test can fail: the signal is not silence


def test_a_preset_fade_is_the_same_in_any_block_size(tmp_path):
    """A fade's frames run one call each through the look-ahead delay line: the output does
    not depend on how the blocks cut the stream (the switch at the same sample)."""
    from model_doubles import gain_conditioning, make_model_folder

    model = ModelFiles.load(make_model_folder(tmp_path, kind="gain", latency_samples=STUDIO_LATENCY,
                                              lookahead_frames=LOOKAHEAD))
    hop = model.hop_length
    x = np.random.default_rng(0).standard_normal((2, 48 * hop)).astype(np.float32)
    outputs = []
    for block in (hop, 4 * hop, 16 * hop):
        engine = StreamingSeparator(model, sample_rate=44100, num_channels=2, conditioning=gain_conditioning(1.0))
        pieces = []
        for start in range(0, x.shape[1], block):
            if start == 16 * hop:
                engine.set_conditioning(gain_conditioning(0.0), crossfade_seconds=8 * hop / 44100)
            pieces.append(engine.process_block(x[:, start : start + block]))
        outputs.append(np.concatenate(pieces, axis=1))
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-6)
    np.testing.assert_allclose(outputs[2], outputs[0], atol=1e-6)
    # before the switch the input passes (gain 1, delayed), long after it nothing does (gain 0)
    y = outputs[0]
    np.testing.assert_allclose(y[:, STUDIO_LATENCY : 16 * hop], x[:, : 16 * hop - STUDIO_LATENCY], atol=1e-5)
    assert np.abs(y[:, STUDIO_LATENCY + 28 * hop :]).max() < 1e-6
