"""`fewshot-sep separate` runs end to end in an interpreter where torch cannot be imported."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from plugin_helpers import make_gain_preset, noise


def test_separate_and_chain_without_torch(tmp_path, gain_model, gain_model_dir, run_without_torch):
    preset = make_gain_preset(tmp_path, gain_model, 0.3)
    x = noise(0.3, 44100, 2)
    sf.write(tmp_path / "in.wav", x.T, 44100, subtype="FLOAT")
    proc = run_without_torch(
        f"""
        from fewshot_sep.cli import main
        rc = main(["separate", {str(tmp_path / "in.wav")!r}, "--preset", {str(preset)!r},
                   "--output", {str(tmp_path / "out.wav")!r}, "--model", {str(gain_model_dir)!r},
                   "--bit-depth", "32", "--quiet"])
        assert rc == 0, rc
        rc = main(["separate", {str(tmp_path / "in.wav")!r}, "--preset", {str(preset)!r}, "--mode", "both",
                   "--output", {str(tmp_path / "both")!r}, "--filename", "{{track}}/{{mode}}.{{ext}}", "--json",
                   "--model", {str(gain_model_dir)!r}, "--quiet"])
        assert rc == 0, rc
        assert not imported(), imported()
        """
    )
    assert proc.returncode == 0, proc.stderr
    y, _ = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    np.testing.assert_allclose(y.T, 0.3 * x, atol=1e-5)
    assert sorted(p.name for p in (tmp_path / "both" / "in").iterdir()) == ["isolate.wav", "remove.wav"]
