"""The stereo-input separator (``model.stereo_input``): it reads the other channel's level
difference, starts as the mono model it is warm-started from, streams like one pass, and
trains on produced episodes seen from one channel."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_test_config import SMALL_MODEL, perturbed_model, streamed_in_chunks  # noqa: E402

STEREO = {"model": {**SMALL_MODEL, "fine_head": 6, "stereo_input": True}}
MONO = {"model": {**SMALL_MODEL, "fine_head": 6}}


def _inputs(seed: int, frames: int = 24):
    gen = torch.Generator().manual_seed(seed)
    own = torch.rand(2, 1, 513, frames, generator=gen) * 3
    other = torch.rand(2, 1, 513, frames, generator=gen) * 3
    return own, other, gen


def test_a_stereo_model_warm_started_from_a_mono_one_computes_what_it_did():
    """The new layers start at zero: loaded with a mono model's weights, the stereo model's masks
    are the mono model's whatever the other channel holds."""
    from fewshot_sep.model import build_model

    mono = perturbed_model(MONO)
    stereo = build_model(STEREO).eval()
    missing, unexpected = stereo.load_state_dict(mono.state_dict(), strict=False)
    assert not unexpected and missing and all("stereo_split" in k or "conv1_extra" in k for k in missing)
    own, other, gen = _inputs(1)
    cond = torch.randn(2, mono.conditioning_dim, generator=gen)
    with torch.no_grad():
        expected = mono.separator(own, cond)[0]
        got = stereo.separator(torch.cat([own, other], dim=1), cond)[0]
    assert (got - expected).abs().max() < 1e-6


def test_the_other_channel_matters_and_a_mono_input_means_no_difference():
    model = perturbed_model(STEREO)
    sep = model.separator
    own, other, gen = _inputs(2)
    cond = torch.randn(2, model.conditioning_dim, generator=gen)
    with torch.no_grad():
        with_other = sep(torch.cat([own, other], dim=1), cond)[0]
        mono = sep(own, cond)[0]
        same = sep(torch.cat([own, own], dim=1), cond)[0]
    assert (with_other - mono).abs().max() > 1e-3
    assert (same - mono).abs().max() < 1e-6


@pytest.mark.parametrize("extra", [{}, {"band_gru": 8, "band_gru_level": 1, "lookahead_hidden": 8, "input_gain": 1000.0}])
@pytest.mark.parametrize("chunks", [[1] * 20, [3, 1, 7, 9]])
def test_stereo_stream_equals_full_pass(chunks, extra):
    model = perturbed_model({"model": {**STEREO["model"], **extra}})
    sep = model.separator
    own, other, gen = _inputs(3, frames=sum(chunks))
    mag = torch.cat([own, other], dim=1)
    cond = torch.randn(2, model.conditioning_dim, generator=gen)
    with torch.no_grad():
        full = sep(mag, cond)[0]
    assert (streamed_in_chunks(sep, mag, cond, chunks) - full).abs().max() < 1e-4


def test_stereo_input_with_look_ahead_is_refused_by_name():
    from fewshot_sep.model import build_model

    with pytest.raises(ValueError, match="stereo_input with model.lookahead_frames 2"):
        build_model({"model": {**SMALL_MODEL, "stereo_input": True, "lookahead_frames": 2}})


def test_a_wrong_number_of_input_planes_is_refused_by_name():
    own, other, _ = _inputs(4, frames=3)
    stereo, mono = perturbed_model(STEREO), perturbed_model(MONO)
    cond = torch.zeros(2, mono.conditioning_dim)
    with pytest.raises(ValueError, match=r"\[B, 1, 513, T\] or \[B, 2, 513, T\].*got 3 planes"):
        stereo.separator(torch.cat([own, other, own], dim=1), cond)
    with pytest.raises(ValueError, match=r"takes magnitude \[B, 1, 513, T\], got 2 planes"):
        mono.separator(torch.cat([own, other], dim=1), cond)


def test_batches_carry_the_other_channel_and_the_step_reads_it():
    """``make_batch``: a stereo episode's other channel, scaled with its own; a mono episode's
    other channel is its mixture. ``separate_batch`` reads it for a stereo model."""
    from types import SimpleNamespace

    from fewshot_sep.model import build_model
    from fewshot_sep.train.batches import make_batch
    from fewshot_sep.train.step import separate_batch_with_mask, to_tensors

    rng = np.random.default_rng(0)
    n, clip = 8192, 4096

    def episode(stereo: bool):
        target, interferers = rng.normal(0, 0.5, n).astype(np.float32), rng.normal(0, 0.5, (2, n)).astype(np.float32)
        other = (rng.normal(0, 1.5, n).astype(np.float32)) if stereo else None
        return SimpleNamespace(target=target, interferers=interferers, mixture=target + interferers.sum(0),
                               mixture_other=other, support=rng.normal(0, 0.1, (2, clip)).astype(np.float32),
                               negatives=np.zeros((0, clip), np.float32), negative_instrument=-1,
                               interferer_instruments=[1, 2], target_instrument=0)

    episodes = [episode(True), episode(False)]
    source = SimpleNamespace(episode=lambda i: episodes[i])
    batch = make_batch(source, 0, 2, seed=0)
    # with the timbre augmentation on, the stereo episode's sources stay as produced, the mono one's change
    from fewshot_sep.train.batches import AugmentConfig

    augmented = make_batch(source, 0, 2, seed=0, augment_cfg=AugmentConfig(enabled=True, reverb_prob=1.0))
    np.testing.assert_array_equal(augmented["mixture"][0], batch["mixture"][0])
    np.testing.assert_array_equal(augmented["target"][0], batch["target"][0])
    assert np.abs(augmented["mixture"][1] - batch["mixture"][1]).max() > 1e-3
    scale0 = batch["mixture"][0] / episodes[0].mixture
    np.testing.assert_allclose(batch["mixture_other"][0], episodes[0].mixture_other * scale0[0], rtol=1e-5)
    assert scale0[0] < 1.0  # the louder other channel sets the common peak scale
    np.testing.assert_array_equal(batch["mixture_other"][1], batch["mixture"][1])
    assert "mixture_other" not in make_batch(SimpleNamespace(episode=lambda i: episodes[1]), 0, 2, seed=0)

    model = build_model(STEREO).eval()
    with torch.no_grad():
        model.separator.stereo_split.proj.weight.normal_()
        tensors = to_tensors(batch, torch.device("cpu"))
        cond = torch.zeros(2, model.conditioning_dim)
        _, _, mask = separate_batch_with_mask(model, tensors, cond)
        tensors["mixture_other"] = tensors["mixture"]
        _, _, mono_mask = separate_batch_with_mask(model, tensors, cond)
    assert (mask[0] - mono_mask[0]).abs().max() > 1e-4
    assert (mask[1] - mono_mask[1]).abs().max() < 1e-6
