"""fewshot_sep.realtime imports and runs with torch made unimportable."""

from __future__ import annotations

import textwrap

from repo_paths import REPO

SCRIPT = textwrap.dedent(
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the torch blocker does not work")

    import numpy as np
    import fewshot_sep.realtime
    from fewshot_sep.realtime import conditioning, encoder, engine, model_files, sessions, stft

    model = model_files.ModelFiles.load(sys.argv[1])
    sep = engine.StreamingSeparator(model, sample_rate=48000, num_channels=2)
    x = np.zeros((2, 48000), dtype=np.float32)
    x[:, 100] = 1.0
    y = np.concatenate([sep.process_block(x[:, i:i + 480]) for i in range(0, 48000, 480)], axis=1)
    assert abs(int(np.argmax(y[0])) - (100 + sep.latency_samples)) <= 1, np.argmax(y[0])
    emb = encoder.ClipEncoder(model).embed([np.random.default_rng(0).standard_normal(44100).astype(np.float32)])
    assert emb.shape == (1, model.embedding_dim)
    assert not imported(), imported()
    print("NO_TORCH_OK")
    """
)


def test_realtime_runs_without_torch(identity_model_dir, run_without_torch):
    result = run_without_torch(SCRIPT, identity_model_dir, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "NO_TORCH_OK" in result.stdout
