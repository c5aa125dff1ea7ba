"""fewshot-torch, onehot and the ONNX paths of the same (tiny, untrained) model agree in the harness.

A tiny few-shot model is saved as a training run (config.json + checkpoint.pt),
exported to ONNX with the project's exporter, and evaluated with all six
systems. The torch checkpoint, the ONNX model offline and the ONNX model
streamed in 256-sample blocks must give the same SI-SDR per episode and
condition (export and engine are exact to ~1e-6 in the mask, so to
hundredths of a dB in the metric). The one-hot baseline must use the nearest
trained class for unseen targets.
"""

from __future__ import annotations

import pytest

from eval_fixtures import make_synthetic_dataset
from model_test_config import save_tiny_run

torch = pytest.importorskip("torch")
pytest.importorskip("fast_bss_eval")
pytest.importorskip("onnx")


@pytest.mark.slow
def test_torch_onnx_and_streaming_agree_and_onehot_uses_nearest_class(tmp_path):
    from fewshot_sep.eval.harness import EvalSettings, run_evaluation
    from fewshot_sep.export.exporter import export_model
    from fewshot_sep.train.checkpoint import load_checkpoint

    data = make_synthetic_dataset(tmp_path / "data", n_works=4, seconds=4.0)
    run = save_tiny_run(tmp_path / "fewshot_run", seed=0)
    classes = [0, 32, 73, 42, 109]  # piano, bass, flute, cello, bagpipe
    onehot = save_tiny_run(tmp_path / "onehot_run", seed=1, conditioning="onehot", classes=classes,
                           num_classes=len(classes))
    model, config = load_checkpoint(run)
    onnx_dir = export_model(model, tmp_path / "onnx", config=config, name="tiny", show_progress=False).folder

    settings = EvalSettings(data=str(data), splits=["test", "test_unseen"], episodes=2, ks=[1, 3], negatives="both",
                            systems=["mixture", "oracle", "onehot", "fewshot-torch", "fewshot-onnx", "fewshot-stream"],
                            checkpoint=str(run), onehot_checkpoint=str(onehot), model=str(onnx_dir),
                            seconds=1.5, support_seconds=1.0, listen=0, stream_conditions="all")
    rows = run_evaluation(settings, tmp_path / "out", workers=1, progress=False, in_process=True).rows
    by_key = {(r["episode"], r["system"], r["k"], r["negatives"]): r for r in rows}
    compared = 0
    for (episode, system, k, neg), row in by_key.items():
        assert row["status"] == "ok"
        if system != "fewshot-torch":
            continue
        for other in ("fewshot-onnx", "fewshot-stream"):
            twin = by_key[(episode, other, k, neg)]
            assert twin["si_sdr"] == pytest.approx(row["si_sdr"], abs=0.02), (episode, other, k, neg)
            compared += 1
    assert compared >= 2 * 4 * 2  # 2 twins x 4 episodes x at least the 2 "without" conditions
    for row in (r for r in rows if r["system"] == "onehot"):
        expected = {"Contrabass": "Cello", "Fiddle": "Bagpipe"}.get(row["target_name"], row["target_name"])
        assert row["onehot_class"] == expected


def test_a_stereo_checkpoint_reads_each_channel_with_the_other(tmp_path):
    """fewshot-torch with a ``model.stereo_input`` checkpoint: each channel separated with the other
    one beside it (the harness's stereo path); a mix with equal channels is separated as mono."""
    import numpy as np

    from fewshot_sep.eval.systems import TorchFewShot

    system = TorchFewShot(save_tiny_run(tmp_path / "stereo_run", stereo_input=True, fine_head=4))
    assert system.stereo_input
    with torch.no_grad():  # the new layers start at zero: make the other channel matter
        system.model.separator.stereo_split.proj.weight.normal_(0.0, 0.5)
    rng = np.random.default_rng(0)
    mixture = rng.normal(0, 0.1, (2, 22050)).astype(np.float32)
    vector = rng.normal(0, 1, system.model.conditioning_dim).astype(np.float32)
    stereo = system.separate_stereo(mixture, vector)
    alone = np.stack([system.separate(ch, vector) for ch in mixture])
    assert stereo.shape == mixture.shape and np.abs(stereo - alone).max() > 1e-4
    np.testing.assert_allclose(system.separate_stereo(mixture[::-1].copy(), vector), stereo[::-1], atol=1e-6)
    twin = np.stack([mixture[0], mixture[0]])
    np.testing.assert_allclose(system.separate_stereo(twin, vector)[1], alone[0], atol=1e-6)
