"""Outputs are written atomically: an error mid-file leaves no partial output and no temp file."""

from __future__ import annotations

import pytest
import soundfile as sf

from plugin_helpers import gain_vector, noise


class _FailsAfter:
    """A processor that works for a few chunks, then raises (like a disk or model error)."""

    def __init__(self, inner, calls: int) -> None:
        self.inner, self.calls = inner, calls
        self.latency_samples = 0

    def reset(self) -> None:
        self.inner.reset()

    def process_channels_first(self, audio, sample_rate, buffer_size=8192, reset=True):
        self.calls -= 1
        if self.calls < 0:
            raise OSError("simulated failure in the middle of the file")
        out = self.inner.process_channels_first(audio, sample_rate, buffer_size, reset)
        self.latency_samples = self.inner.latency_samples
        return out


def test_error_mid_file_leaves_nothing_behind(tmp_path, gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator, stream_file

    sf.write(tmp_path / "in.wav", noise(2.0, 44100, 2).T, 44100)
    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.wav").write_bytes(b"previous result")
    with pytest.raises(OSError, match="simulated"):
        stream_file([_FailsAfter(sep, 3)], tmp_path / "in.wav", [tmp_path / "out" / "new.wav"],
                    residual_path=tmp_path / "out" / "residual.wav", chunk_frames=4096)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.wav"]


def test_error_keeps_an_existing_output_intact(tmp_path, gain_model):
    from fewshot_sep.plugin_host import FewShotSeparator, stream_file

    sf.write(tmp_path / "in.wav", noise(1.0, 44100, 2).T, 44100)
    (tmp_path / "out.wav").write_bytes(b"old output")
    sep = FewShotSeparator(conditioning=gain_vector(0.5, gain_model.conditioning_dim), model=gain_model)
    with pytest.raises(OSError):
        stream_file([_FailsAfter(sep, 2)], tmp_path / "in.wav", [tmp_path / "out.wav"], chunk_frames=4096)
    assert (tmp_path / "out.wav").read_bytes() == b"old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]
