"""Values that break audio: huge preset embeddings, non-finite separator output, integer arrays,
NaN/Inf in input files, tiny live blocks."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

from fewshot_sep.cli import main
from fewshot_sep.utils.errors import UserError
from plugin_helpers import gain_vector, make_gain_preset, noise


def _huge_preset(tmp_path, model, value=1e30):
    """A self-consistent preset (mean == sum / count, counts match the clips) with huge embeddings."""
    path = make_gain_preset(tmp_path, model, 0.5, name="huge")
    doc = json.loads(path.read_text())
    vector = [value] * int(model.embedding_dim)
    doc["positive"]["sum"] = vector
    doc["positive"]["mean"] = [float(np.float32(v)) for v in vector]
    path.write_text(json.dumps(doc))
    return path


def test_packaged_encoder_outputs_stay_within_the_bound():
    """The bound presets are checked against is what the packaged encoder can produce."""
    from fewshot_sep.realtime.conditioning import EMBEDDING_NORM_BOUND
    from fewshot_sep.realtime.encoder import ClipEncoder

    encoder = ClipEncoder(None)
    rng = np.random.default_rng(3)
    n = int(encoder.model.sample_rate * 1.5)
    clips = [rng.standard_normal(n).astype(np.float32) * 0.5, np.zeros(n, np.float32),
             np.sign(rng.standard_normal(n)).astype(np.float32), 1e-6 * rng.standard_normal(n).astype(np.float32)]
    norms = np.linalg.norm(encoder.embed(clips).astype(np.float64), axis=1)
    assert np.all(norms <= EMBEDDING_NORM_BOUND * (1 + 1e-6)), norms
    assert np.all(norms[[0, 2]] > 0.99), norms  # real clips give unit-length embeddings: the bound is tight


@pytest.mark.parametrize("value", [1e30, 2.0, -0.5])
def test_preset_with_embeddings_the_encoder_cannot_make_is_refused(tmp_path, gain_model, value):
    from fewshot_sep.presets import load_preset

    with pytest.raises(UserError, match="L2 norm"):
        load_preset(_huge_preset(tmp_path, gain_model, value))


def test_separate_with_a_huge_preset_exits_2_and_writes_nothing(tmp_path, gain_model, gain_model_dir, capsys):
    sf.write(tmp_path / "song.wav", noise(1.0, 44100, 2).T, 44100)
    preset = _huge_preset(tmp_path, gain_model)
    code = main(["separate", str(tmp_path / "song.wav"), "--preset", str(preset), "-o", str(tmp_path / "out.wav"),
                 "--model", str(gain_model_dir), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "L2 norm" in err and "Traceback" not in err
    assert not (tmp_path / "out.wav").exists()


def test_api_and_live_refuse_the_huge_preset_and_vectors(tmp_path, gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator
    from fewshot_sep.plugin_host.live.host import LiveHost

    preset = _huge_preset(tmp_path, gain_model)
    with pytest.raises(UserError, match="L2 norm"):
        FewShotSeparator(preset=str(preset), model=gain_model)
    with pytest.raises(UserError, match="L2 norm"):
        LiveHost([str(preset)], model=gain_model, out=io.StringIO())
    huge = gain_vector(1e30, gain_model.conditioning_dim)
    with pytest.raises(UserError, match="L2 norm"):
        FewShotSeparator(conditioning=huge, model=gain_model)
    with pytest.raises(UserError, match="NaN or Inf"):
        FewShotSeparator(conditioning=gain_vector(np.nan, gain_model.conditioning_dim), model=gain_model)


@pytest.fixture(scope="module")
def overflowing_engine():
    """The packaged model with a conditioning vector far outside its range (past every check):
    its FiLM layers overflow to Inf/NaN."""
    from fewshot_sep.realtime.engine import StreamingSeparator
    from fewshot_sep.realtime.model_files import ModelFiles

    model = ModelFiles.load(None)
    engine = StreamingSeparator(model, 44100, 2)
    vector = np.zeros(model.conditioning_dim, np.float32)
    vector[: model.embedding_dim] = 1e30
    engine._conditioning_target = vector  # what fresh streams (the plugin's offline path) start from
    for pipeline in [engine._live]:
        pipeline.core.snap_conditioning(vector)
    return engine


def test_engine_contains_non_finite_separator_output(overflowing_engine):
    engine = overflowing_engine
    out = engine.process_block(noise(0.2, 44100, 2)[:, :4096])
    assert np.all(np.isfinite(out)), "NaN/Inf reached the engine's output"
    assert engine.nonfinite_outputs > 0


def test_process_raises_and_live_counts_an_error_on_non_finite_output(overflowing_engine, gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator
    from fewshot_sep.plugin_host.live.host import LiveHost

    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    sep._engine, sep._engine_key = overflowing_engine, (44100, 2)
    with pytest.raises(UserError, match="NaN or Inf"):
        sep.process(noise(0.2, 44100, 2), 44100, reset=False)
    host = LiveHost([gain_vector(0.5, gain_model.conditioning_dim)], model=gain_model, out=io.StringIO())
    host.engine, host.sample_rate = overflowing_engine, 44100
    host.reset_counters()
    block = np.ascontiguousarray(noise(0.1, 44100, 2)[:, :4096].T)
    outdata = np.zeros_like(block)
    host.audio.portaudio_callback(block, outdata, block.shape[0], None, None)  # never raises
    assert host.audio.errors == 1 and "NaN/Inf" in host.audio.last_error
    assert np.all(np.isfinite(outdata))


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int8, np.int64])
def test_integer_arrays_are_scaled_like_audio(gain_model, dtype):
    from fewshot_sep.plugin_host import FewShotSeparator

    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    scale = 2 ** (8 * np.dtype(dtype).itemsize - 1)
    x = noise(0.2, 44100, 2)
    ints = np.clip(np.round(x * scale), -scale, scale - 1).astype(dtype)
    y = sep.process(ints, 44100)
    assert y.dtype == np.float32 and np.max(np.abs(y)) < 1.0
    np.testing.assert_allclose(y, sep.process(ints.astype(np.float64) / scale, 44100), atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.bool_, np.complex64])
def test_ambiguous_dtypes_are_refused_with_a_fix(gain_model, dtype):
    from fewshot_sep.plugin_host import FewShotSeparator

    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    with pytest.raises(UserError, match=f"dtype {np.dtype(dtype)}.*float32"):
        sep.process(np.zeros((2, 100), dtype=dtype), 44100)


def test_separate_says_when_input_nan_was_silenced(tmp_path, gain_model, gain_model_dir, capsys):
    x = noise(1.0, 44100, 2)
    x[0, 100:110] = np.nan
    x[1, 5000] = np.inf
    sf.write(tmp_path / "bad.wav", x.T, 44100, subtype="FLOAT")
    preset = make_gain_preset(tmp_path, gain_model, 0.5)
    code = main(["separate", str(tmp_path / "bad.wav"), "--preset", str(preset), "-o", str(tmp_path / "out.wav"),
                 "--model", str(gain_model_dir), "-q"])
    captured = capsys.readouterr()
    assert code == 0
    assert "11 NaN/Inf sample(s)" in captured.out + captured.err
    assert np.all(np.isfinite(sf.read(tmp_path / "out.wav")[0]))


@pytest.mark.parametrize("blocksize, warned", [(1, True), (32, True), (64, False), (256, False)])
def test_live_warns_about_tiny_blocks(gain_model, blocksize, warned):
    from fewshot_sep.plugin_host.live.host import LiveHost

    out = io.StringIO()
    LiveHost([gain_vector(0.5, gain_model.conditioning_dim)], model=gain_model, blocksize=blocksize, out=out)
    assert ("very small" in out.getvalue()) == warned
