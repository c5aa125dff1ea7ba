"""Shared audio I/O: formats, segments, chunked reading, atomic writes, errors."""

import numpy as np
import pytest

from fewshot_sep.utils.audio import (
    audio_info,
    iter_audio_chunks,
    read_audio,
    write_audio,
)
from fewshot_sep.realtime.resampler import resample
from fewshot_sep.utils.errors import UserError


def _noise(channels=2, n=44100, seed=0):
    return (np.random.default_rng(seed).standard_normal((channels, n)) * 0.1).astype(np.float32)


@pytest.mark.parametrize("ext", [".wav", ".flac", ".aiff"])
def test_pcm_round_trip_is_24_bit_exact(tmp_path, ext):
    x = _noise()
    path = tmp_path / f"a{ext}"
    write_audio(path, x, 44100)
    y, sr = read_audio(path)
    assert sr == 44100 and y.shape == x.shape and y.dtype == np.float32
    assert np.abs(y - x).max() < 2**-22


def test_float_wav_is_bit_exact(tmp_path):
    x = _noise(1)
    write_audio(tmp_path / "f.wav", x, 48000, bit_depth=32)
    y, sr = read_audio(tmp_path / "f.wav")
    assert sr == 48000 and np.array_equal(x, y)


def test_segment_and_chunks(tmp_path):
    x = _noise(2, 44100)
    path = tmp_path / "a.wav"
    write_audio(path, x, 44100, bit_depth=32)
    seg, _ = read_audio(path, (0.25, 0.5))
    assert np.array_equal(seg, x[:, 11025:22050])
    chunks = list(iter_audio_chunks(path, 1000))
    assert all(c.shape[1] <= 1000 for c in chunks)
    assert np.array_equal(np.concatenate(chunks, axis=1), x)
    assert audio_info(path) == (44100, 2, 44100)


@pytest.mark.parametrize("segment", [(0.5, 0.2), (-1.0, 0.5), (2.0, 3.0)])
def test_bad_segment_names_file_and_length(tmp_path, segment):
    path = tmp_path / "a.wav"
    write_audio(path, _noise(1, 44100), 44100)
    with pytest.raises(UserError, match=r"a\.wav.*1\.00 s long"):
        read_audio(path, segment)


def test_unreadable_and_missing_files(tmp_path):
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio")
    with pytest.raises(UserError, match="notes.wav"):
        read_audio(bogus)
    with pytest.raises(UserError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(UserError, match="unknown output format"):
        write_audio(tmp_path / "out.xyz", _noise(), 44100)
    with pytest.raises(ValueError):
        write_audio(tmp_path / "out.wav", np.zeros(10, np.float32), 44100)
    assert list(tmp_path.iterdir()) == []


def test_resample_length_and_tone():
    sr_from, sr_to = 44100, 48000
    t = np.arange(sr_from) / sr_from
    x = np.sin(2 * np.pi * 440 * t, dtype=np.float64).astype(np.float32)[None]
    y = resample(x, sr_from, sr_to)
    assert y.shape == (1, sr_to)
    ref = np.sin(2 * np.pi * 440 * np.arange(sr_to) / sr_to)
    assert np.abs(y[0, 1000:-1000] - ref[1000:-1000]).max() < 1e-3


def test_empty_file_reads_as_empty_array(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "empty.wav", np.zeros((0, 1)), 44100)
    audio, sr = read_audio(tmp_path / "empty.wav")
    assert audio.shape == (1, 0) and sr == 44100


# -- the one format table and the one writer --------------------------------------------


def test_one_extension_table_feeds_every_list():
    from fewshot_sep.plugin_host.files import processing as file_processing
    from fewshot_sep.utils import audio

    assert audio.READABLE_EXTENSIONS == audio.WRITABLE_EXTENSIONS == (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
    assert audio.PCM_EXTENSIONS == (".wav", ".flac", ".aiff", ".aif")
    assert file_processing.READABLE_EXTENSIONS is audio.READABLE_EXTENSIONS
    assert file_processing.PCM_EXTENSIONS is audio.PCM_EXTENSIONS
    assert audio.FORMAT_NAMES == "WAV, FLAC, OGG, MP3 or AIFF"
    assert audio.audio_format("x.AIF").name == "AIFF" and audio.audio_format("x.txt") is None


@pytest.mark.parametrize("ext, bits, subtype", [
    (".wav", 16, "PCM_16"), (".wav", 24, "PCM_24"), (".wav", 32, "FLOAT"),
    (".flac", 16, "PCM_16"), (".flac", 24, "PCM_24"), (".flac", 32, "PCM_24"),
    (".aiff", 24, "PCM_24"), (".aif", 32, "PCM_24"),
])
def test_bit_depth_rule_is_the_same_for_both_writers(tmp_path, ext, bits, subtype):
    """write_audio and `separate`'s streaming writer are one writer: FLAC/AIFF take 24 bits at most
    (they have no float samples), WAV 32 is float."""
    import soundfile as sf

    from fewshot_sep.plugin_host.files.processing import _Writer
    from fewshot_sep.utils.audio import AudioWriter

    assert _Writer is AudioWriter
    x = _noise(2, 4410)
    write_audio(tmp_path / f"whole{ext}", x, 44100, bit_depth=bits)
    with AudioWriter(tmp_path / f"streamed{ext}", tmp_path / f"streamed{ext}", 44100, 2, bits) as writer:
        writer.write(x[:, :1000])
        writer.write(x[:, 1000:1000])  # an empty block is fine
        writer.write(x[:, 1000:])
    for name in ("whole", "streamed"):
        assert sf.info(str(tmp_path / f"{name}{ext}")).subtype == subtype
    assert (tmp_path / f"whole{ext}").read_bytes() == (tmp_path / f"streamed{ext}").read_bytes()


def test_writer_refuses_unknown_formats_and_codec_errors(tmp_path):
    from fewshot_sep.utils.audio import AudioWriter

    with pytest.raises(UserError, match="unknown output format '.xyz'"):
        write_audio(tmp_path / "a.xyz", _noise(1, 100), 44100)
    with pytest.raises(UserError, match="cannot write .* at 44100 Hz with 0 channel"):
        AudioWriter(tmp_path / "a.wav", tmp_path / "a.wav", 44100, 0)
