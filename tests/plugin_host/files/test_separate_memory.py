"""Long files are streamed: peak memory does not grow with the file's length."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf


def _write_long_wav(path, minutes: float, rate: int = 44100) -> None:
    rng = np.random.default_rng(0)
    block = (0.1 * rng.standard_normal((rate * 10, 2))).astype(np.float32)
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_16") as f:
        for _ in range(int(minutes * 6)):
            f.write(block)


def _peak_rss_mb(input_path, output_path, model_dir) -> float:
    code = textwrap.dedent(
        f"""
        import resource, sys
        import numpy as np
        from fewshot_sep.plugin_host import FewShotSeparator, stream_file
        vector = np.zeros(33, np.float32); vector[0] = 0.5
        sep = FewShotSeparator(conditioning=vector, model={str(model_dir)!r})
        stream_file([sep], {str(input_path)!r}, [{str(output_path)!r}], progress=False)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return float(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_peak_memory_is_independent_of_file_length(tmp_path, gain_model_dir, ext):
    """Every output writer streams (an hour-long file would otherwise need GBs): 1 vs 10 minutes."""
    _write_long_wav(tmp_path / "short.wav", minutes=1)
    _write_long_wav(tmp_path / "long.wav", minutes=10)
    short = _peak_rss_mb(tmp_path / "short.wav", tmp_path / f"short_out.{ext}", gain_model_dir)
    long = _peak_rss_mb(tmp_path / "long.wav", tmp_path / f"long_out.{ext}", gain_model_dir)
    if ext in ("wav", "flac"):  # lossy codecs pad or trim a few frames at the ends
        assert sf.info(tmp_path / f"long_out.{ext}").frames == sf.info(tmp_path / "long.wav").frames
    else:
        from pedalboard.io import AudioFile

        with AudioFile(str(tmp_path / f"long_out.{ext}")) as f:
            assert abs(f.frames - sf.info(tmp_path / "long.wav").frames) < 44100
    # Holding the 10-minute file in memory would take 10 * 21 MB (float32 stereo) more.
    assert long - short < 40, f"peak RSS {short:.0f} MB for 1 min, {long:.0f} MB for 10 min"
