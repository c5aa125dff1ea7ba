"""Chunked (bounded-memory) file processing equals processing the whole file at once."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from plugin_helpers import gain_vector, noise, tapered_tones


def _separator(model, gain=0.5):
    from fewshot_sep.plugin_host import FewShotSeparator

    return FewShotSeparator(conditioning=gain_vector(gain, model.conditioning_dim), model=model)


@pytest.mark.parametrize("sample_rate, channels", [(44100, 2), (48000, 1), (22050, 2)])
@pytest.mark.parametrize("chunk_frames", [1000, 4096 + 3, 1 << 16])
def test_chunked_file_equals_whole_file(tmp_path, gain_model, sample_rate, channels, chunk_frames):
    from fewshot_sep.plugin_host import stream_file

    x = tapered_tones(0.7, sample_rate, channels, seed=chunk_frames)
    sf.write(tmp_path / "in.wav", x.T, sample_rate, subtype="FLOAT")
    sep = _separator(gain_model)
    result = stream_file([sep], tmp_path / "in.wav", [tmp_path / "out.wav"], chunk_frames=chunk_frames, bit_depth=32)
    y, rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    assert rate == sample_rate and result.sample_rate == sample_rate
    assert y.shape == x.T.shape  # same length and channel count as the input
    whole = sep.process(x, sample_rate)  # reset=True: the whole file in memory, aligned
    np.testing.assert_allclose(y.T, whole, atol=1e-6)


def test_chain_file_processing_equals_in_memory_chain(tmp_path, gain_model):
    import pedalboard

    from fewshot_sep.plugin_host import Chain, stream_file

    x = noise(0.8, 44100, 2, seed=5)
    sf.write(tmp_path / "in.wav", x.T, 44100, subtype="FLOAT")
    chain = Chain([pedalboard.Gain(gain_db=-3), _separator(gain_model), pedalboard.Reverb(room_size=0.2)])
    stream_file([chain], tmp_path / "in.wav", [tmp_path / "out.wav"], chunk_frames=5000, bit_depth=32)
    y, _ = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    np.testing.assert_allclose(y.T, chain(x, 44100), atol=1e-5)


def test_output_format_follows_extension_and_keeps_rate_and_channels(tmp_path, gain_model):
    from fewshot_sep.plugin_host import stream_file

    x = tapered_tones(0.5, 48000, 1)
    sf.write(tmp_path / "in.flac", x.T, 48000)
    stream_file([_separator(gain_model)], tmp_path / "in.flac", [tmp_path / "out.ogg"])
    info = sf.info(tmp_path / "out.ogg")
    assert (info.format, info.samplerate, info.channels) == ("OGG", 48000, 1)
    assert abs(info.frames - x.shape[1]) <= 1


def test_memory_is_bounded_by_the_chunk(tmp_path, gain_model, monkeypatch):
    """No call ever sees more than one chunk: the whole file is never held at once."""
    from fewshot_sep.plugin_host import stream_file

    n = 44100 * 3
    sf.write(tmp_path / "long.wav", noise(3.0, 44100, 2).T, 44100)
    sep = _separator(gain_model)
    seen = []
    original = sep.process_channels_first

    def spy(audio, *args, **kwargs):
        seen.append(audio.shape[1])
        return original(audio, *args, **kwargs)

    monkeypatch.setattr(sep, "process_channels_first", spy)
    stream_file([sep], tmp_path / "long.wav", [tmp_path / "out.wav"], chunk_frames=8192)
    assert max(seen) <= 8192 and sum(seen) >= n


@pytest.mark.parametrize("sample_rate, channels", [(32000, 2), (16000, 1), (11025, 1)])
def test_any_sample_rate_is_processed_at_its_own_rate(tmp_path, gain_model, sample_rate, channels):
    """Rates the engine does not run at go through soxr to 44.1 kHz and back: same length, aligned."""
    from fewshot_sep.plugin_host import stream_file

    x = tapered_tones(0.6, sample_rate, channels, freqs=(220.0, 1234.5, 3000.0))
    sf.write(tmp_path / "in.wav", x.T, sample_rate, subtype="FLOAT")
    stream_file([_separator(gain_model)], tmp_path / "in.wav", [tmp_path / "out.wav"], chunk_frames=3000,
                bit_depth=32)
    y, rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    assert rate == sample_rate and y.shape == x.T.shape
    # Band-limited tones survive the soxr HQ round trips; a one-sample shift would not.
    np.testing.assert_allclose(y.T, 0.5 * x, atol=1e-4)


def test_a_tiny_last_chunk_is_merged_for_native_plugins(tmp_path, gain_model):
    """3001 frames in 1000-frame chunks: the 1-frame tail must not reach pedalboard as [2, 1]."""
    import pedalboard

    from fewshot_sep.plugin_host import Chain, stream_file

    x = noise(3001 / 44100, 44100, 2, seed=11)
    sf.write(tmp_path / "in.wav", x.T, 44100, subtype="FLOAT")
    chain = Chain([_separator(gain_model), pedalboard.LowpassFilter(cutoff_frequency_hz=2000)])
    stream_file([chain], tmp_path / "in.wav", [tmp_path / "out.wav"], chunk_frames=1000, bit_depth=32)
    y, _ = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    np.testing.assert_allclose(y.T, chain(x, 44100), atol=1e-5)
