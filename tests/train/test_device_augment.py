"""data.augment.on_device: the deferred batch finished in torch equals make_batch's CPU batch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


def _sampler():
    from fewshot_sep.train.synthetic import SyntheticSampler

    return SyntheticSampler(n_instruments=6, clip_seconds=0.5, support_seconds=0.4, k_range=(1, 3),
                            n_interferers=(1, 3), negative_prob=0.5, negatives_range=(1, 2), seed=4)


@pytest.mark.parametrize("reverb_prob,peak_limit", [(0.0, 0.99), (0.5, 0.99), (0.5, 0.05)])
def test_finished_deferred_batch_matches_the_cpu_batch(reverb_prob, peak_limit):
    from dataclasses import replace

    from fewshot_sep.train.batches import AugmentConfig, make_batch
    from fewshot_sep.train.device_augment import finish_batch
    from fewshot_sep.train.loop import to_tensors

    cpu_cfg = AugmentConfig(reverb_prob=reverb_prob)
    source = _sampler()
    want = make_batch(source, step=2, batch_size=6, seed=1, augment_cfg=cpu_cfg, peak_limit=peak_limit)
    deferred = make_batch(source, step=2, batch_size=6, seed=1, augment_cfg=replace(cpu_cfg, on_device=True),
                          peak_limit=peak_limit)
    assert "mixture" not in deferred and "source_rows" in deferred
    got = finish_batch(to_tensors(deferred, torch.device("cpu")), cpu_cfg)
    if peak_limit < 0.1:  # the limiter acted: every mixture's peak is at the limit
        np.testing.assert_allclose(np.abs(want["mixture"]).max(axis=-1), peak_limit, rtol=1e-5)
    assert set(got) == set(want)
    for key, value in want.items():
        mine = got[key].numpy()
        assert mine.shape == value.shape, key
        if value.dtype.kind == "f" and value.ndim == 2 and value.size:
            err_db = 10 * np.log10(np.sum((mine - value) ** 2) / np.sum(value ** 2) + 1e-30)
            assert err_db < -60.0, (key, err_db)
        else:
            np.testing.assert_array_equal(mine, value, err_msg=key)
    assert want["has_negatives"].any() and not want["has_negatives"].all()


def test_training_with_device_augmentation_runs(tmp_path):
    from fewshot_sep.train.loop import train

    config = smoke_config(total_steps=2)
    config["data"]["augment"] = {**config["data"]["augment"], "enabled": True, "on_device": True}
    summary = train(config, tmp_path / "run", progress=False)
    assert summary["step"] == 2 and np.isfinite(summary["last_loss"])
