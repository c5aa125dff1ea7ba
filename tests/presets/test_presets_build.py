"""Building presets from example files: formats, rates, channels, segments, trimming, clips."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.presets import add_examples, create_preset, parse_example
from fewshot_sep.presets.examples import cut_clips, trim_silence
from fewshot_sep.realtime.encoder import ClipEncoder
from fewshot_sep.utils.audio import write_audio
from fewshot_sep.utils.errors import UserError
from preset_helpers import bright_noise, cosine, dark_tone, write


@pytest.fixture(scope="module")
def encoder(identity_model):
    return ClipEncoder(identity_model)


def test_parse_example_segments(tmp_path):
    assert parse_example("a.wav").segment is None
    assert parse_example("a.wav@12.5-20").segment == (12.5, 20.0)
    assert parse_example("a.wav@12.5-").segment == (12.5, None)
    assert parse_example("dir/a.wav@1:05-1:10.5").segment == (65.0, 70.5)
    assert parse_example("a.wav@0:01:00-").segment == (60.0, None)
    assert str(parse_example("a.wav@3-4").path) == "a.wav"
    # '@' in a real file name is kept when that file exists.
    literal = write(tmp_path / "take@1-2.wav", dark_tone(220, 1.5))
    assert parse_example(str(literal)).segment is None
    assert parse_example("me@home.wav").segment is None
    with pytest.raises(UserError, match="ends .* before it starts"):
        parse_example("a.wav@20-12")
    with pytest.raises(UserError, match="is not valid: write FILE@START-END"):
        parse_example("a.wav@1-2-3")


def test_cut_clips_covers_everything():
    sr = 100
    audio = np.arange(1000, dtype=np.float32)  # 10 s at 100 Hz
    clips = cut_clips(audio, sr, 3.0)
    assert all(len(c) == 300 for c in clips)
    starts = [int(c[0]) for c in clips]
    assert starts == [0, 150, 300, 450, 600, 700]  # hop = half a clip, last one aligned to the end
    assert clips[-1][-1] == 999
    assert len(cut_clips(audio[:250], sr, 3.0)) == 1  # shorter than a clip: whole


def test_trim_silence():
    sr = 44100
    tone = dark_tone(220, 1.0, sr)
    padded = np.concatenate([np.zeros(sr), tone, np.zeros(2 * sr)]).astype(np.float32)
    trimmed = trim_silence(padded, sr)
    assert abs(len(trimmed) - len(tone)) < 2048
    assert trim_silence(np.zeros(sr, np.float32), sr).size == 0


def test_formats_rates_and_channels_all_work(tmp_path, identity_model, encoder):
    """WAV/FLAC/OGG/MP3, 22.05-96 kHz, mono/stereo/5 channels: all read, resampled, downmixed."""
    files = [
        write(tmp_path / "a.wav", dark_tone(110, 2.0, 22050), 22050),
        write(tmp_path / "b.flac", np.stack([dark_tone(130, 2.0, 48000)] * 2), 48000),
        write(tmp_path / "c.wav", np.stack([dark_tone(150, 2.0, 96000, seed=s) for s in range(5)]), 96000,
              subtype="FLOAT"),
    ]
    write_audio(tmp_path / "d.ogg", dark_tone(170, 2.0)[None], 44100)
    write_audio(tmp_path / "e.mp3", np.stack([dark_tone(190, 2.0)] * 2), 44100)
    files += [tmp_path / "d.ogg", tmp_path / "e.mp3"]
    preset = create_preset("mixed", files, model=identity_model, encoder=encoder)
    assert preset.positive.count == 5
    assert [c.file for c in preset.clips] == ["a.wav", "b.flac", "c.wav", "d.ogg", "e.mp3"]
    assert [c.sample_rate for c in preset.clips] == [22050, 48000, 96000, 44100, 44100]
    assert [c.channels for c in preset.clips] == [1, 2, 5, 1, 2]
    # Stereo with identical channels embeds like its mono version (downmix = mean).
    mono = create_preset("mono", [write(tmp_path / "m.flac", dark_tone(130, 2.0, 48000), 48000)],
                         model=identity_model, encoder=encoder)
    np.testing.assert_allclose(mono.positive_mean,
                               create_preset("st", [files[1]], model=identity_model, encoder=encoder).positive_mean,
                               atol=1e-6)


def test_long_files_give_many_clips_and_all_count(tmp_path, identity_model, encoder):
    path = write(tmp_path / "long.wav", dark_tone(110, 10.0), subtype="FLOAT")
    preset = create_preset("long", [path], model=identity_model, encoder=encoder)
    # 10 s, clips of 3 s every 1.5 s: starts 0, 1.5, 3, 4.5, 6 and one aligned to the end.
    assert preset.positive.count == 6 and preset.clips[0].n_clips == 6
    # The mean is the mean of exactly those clips' embeddings.
    sr = identity_model.sample_rate
    clips = cut_clips(trim_silence(dark_tone(110, 10.0), sr), sr, 3.0)
    expected = encoder.embed(clips).astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(preset.positive_mean, expected, rtol=1e-6, atol=1e-7)


def test_segments_select_audio(tmp_path, identity_model, encoder):
    sr = 44100
    audio = np.concatenate([dark_tone(110, 4.0, sr), bright_noise(4.0, sr)])
    path = write(tmp_path / "both.wav", audio, sr)
    dark = create_preset("d", [f"{path}@0-4"], model=identity_model, encoder=encoder)
    bright = create_preset("b", [f"{path}@4-"], model=identity_model, encoder=encoder)
    assert dark.clips[0].segment == (0.0, 4.0) and bright.clips[0].segment == (4.0, None)
    assert abs(dark.clips[0].duration_s - 4.0) < 0.05
    ref_dark = create_preset("r", [write(tmp_path / "d.wav", dark_tone(110, 4.0, sr), sr)],
                             model=identity_model, encoder=encoder)
    assert cosine(dark.positive_mean, ref_dark.positive_mean) > 0.999
    assert cosine(bright.positive_mean, ref_dark.positive_mean) < 0.9
    # Same file, different segments: allowed (two passages of one recording).
    both = create_preset("both", [f"{path}@0-4", f"{path}@4-"], model=identity_model, encoder=encoder)
    assert both.positive.count == dark.positive.count + bright.positive.count


def test_silence_is_trimmed_before_clipping(tmp_path, identity_model, encoder):
    sr = 44100
    tone = dark_tone(110, 2.0, sr)
    padded = write(tmp_path / "padded.wav", np.concatenate([np.zeros(3 * sr), tone, np.zeros(3 * sr)]), sr)
    plain = write(tmp_path / "plain.wav", tone, sr)
    a = create_preset("a", [padded], model=identity_model, encoder=encoder)
    b = create_preset("b", [plain], model=identity_model, encoder=encoder)
    assert a.positive.count == 1 and abs(a.clips[0].duration_s - 2.0) < 0.05
    # Equal up to the silence detector's frame granularity (23 ms).
    np.testing.assert_allclose(a.positive_mean, b.positive_mean, atol=5e-3)


def test_near_silent_clips_are_skipped(tmp_path, identity_model, encoder):
    sr = 44100
    gap = np.zeros(8 * sr, np.float32)
    audio = np.concatenate([dark_tone(110, 3.0, sr), gap, dark_tone(110, 3.0, sr, seed=1)])
    path = write(tmp_path / "gappy.wav", audio, sr)
    with pytest.warns(UserWarning, match="skipped .* mostly silent"):
        preset = create_preset("g", [path], model=identity_model, encoder=encoder)
    record = preset.clips[0]
    assert record.n_skipped >= 2 and record.n_clips + record.n_skipped == 9


def test_add_equals_union_bit_exact(tmp_path, identity_model, encoder):
    a = write(tmp_path / "a.wav", dark_tone(110, 7.0))
    b = write(tmp_path / "b.flac", dark_tone(165, 4.0, 48000), 48000)
    c = write(tmp_path / "c.wav", dark_tone(220, 5.5))
    n1 = write(tmp_path / "n1.wav", bright_noise(3.0))
    n2 = write(tmp_path / "n2.wav", bright_noise(2.5, seed=3))
    union = create_preset("u", [a, b, c], [n1, n2], model=identity_model, encoder=encoder)
    step = create_preset("u", [a], [n1], model=identity_model, encoder=encoder)
    step = add_examples(step, [b], model=identity_model, encoder=encoder)
    step = add_examples(step, [c], [n2], model=identity_model, encoder=encoder)
    for role in ("positive", "negative"):
        assert getattr(step, role).count == getattr(union, role).count
        assert getattr(step, role).total.tobytes() == getattr(union, role).total.tobytes()
    assert step.conditioning().tobytes() == union.conditioning().tobytes()
    assert sorted(c.to_json().items().__repr__() for c in step.clips) == \
        sorted(c.to_json().items().__repr__() for c in union.clips)
    # In another order the sums agree to float64 rounding.
    other = create_preset("o", [c, a, b], [n2, n1], model=identity_model, encoder=encoder)
    np.testing.assert_allclose(other.positive.total, union.positive.total, rtol=1e-12, atol=1e-12)
    # add_examples does not modify its input.
    first = create_preset("u", [a], model=identity_model, encoder=encoder)
    before = first.to_json()
    add_examples(first, [b], model=identity_model, encoder=encoder)
    assert first.to_json() == before


def test_preset_is_closest_to_its_own_instrument(tmp_path, identity_model, encoder):
    dark_files = [write(tmp_path / f"dark{i}.wav", dark_tone(f, 4.0, seed=i)) for i, f in enumerate((98, 131, 175))]
    bright_files = [write(tmp_path / f"bright{i}.wav", bright_noise(4.0, seed=i)) for i in range(3)]
    preset_dark = create_preset("dark", dark_files, model=identity_model, encoder=encoder)
    preset_bright = create_preset("bright", bright_files, model=identity_model, encoder=encoder)
    held_out_dark = encoder.embed([dark_tone(147, 3.0, seed=9)])[0]
    held_out_bright = encoder.embed([bright_noise(3.0, seed=9)])[0]
    assert cosine(preset_dark.positive_mean, held_out_dark) > cosine(preset_bright.positive_mean, held_out_dark) + 0.1
    assert cosine(preset_bright.positive_mean, held_out_bright) > cosine(preset_dark.positive_mean, held_out_bright) + 0.1


def test_negatives_set_the_flag(tmp_path, identity_model, encoder):
    pos = write(tmp_path / "p.wav", dark_tone(110, 2.0))
    neg = write(tmp_path / "n.wav", bright_noise(2.0))
    preset = create_preset("x", [pos], [neg], model=identity_model, encoder=encoder, mode="remove", mix=0.5)
    vector = preset.conditioning()
    assert vector.shape == (2 * identity_model.embedding_dim + 1,) and vector[-1] == 1.0
    assert (preset.default_mode, preset.default_mix) == ("remove", 0.5)
    with pytest.raises(UserError, match="mode 'loud' is invalid: use 'isolate' or 'remove'"):
        create_preset("x", [pos], model=identity_model, encoder=encoder, mode="loud")
    with pytest.raises(UserError, match="mix 2 is invalid: use a number from 0"):
        create_preset("x", [pos], model=identity_model, encoder=encoder, mix=2)
    with pytest.raises(UserError, match="no examples given"):
        create_preset("x", [], model=identity_model, encoder=encoder)


def test_adding_with_another_model_is_refused(tmp_path, identity_model, gain_model, encoder):
    pos = write(tmp_path / "p.wav", dark_tone(110, 2.0))
    preset = create_preset("mine", [f"{pos}@0-"], model=identity_model, encoder=encoder)
    more = write(tmp_path / "q.wav", dark_tone(120, 2.0))
    with pytest.raises(UserError, match=r"(?s)made with model .* rebuild it .*fewshot-sep preset create mine --examples p\.wav@0-"):
        add_examples(preset, [more], model=gain_model)
