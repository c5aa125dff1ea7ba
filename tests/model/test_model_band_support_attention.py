"""Band support attention (model.support_band_attention): each band of an encoder level attends
to the examples' features of that band, made by the separator's own encoder. Warm starts compute
what the model without it did, the tokens come from the same feature space as the mixture's,
streaming equals one pass, padding is ignored, and training and evaluation feed it the same tokens."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_test_config import SMALL_MODEL, frame_by_frame, small_model  # noqa: E402

BAND = {"support_band_attention": 8, "support_band_heads": 2, "support_pool_frames": 4, "support_band_level": 1}
BOTH = {**BAND, "support_attention": 8, "support_heads": 2}


def _support(model, batch: int, clips: int, frames: int = 20, seed: int = 0, level: float = 0.05):
    """A Support of ``clips`` random example clips per episode (magnitudes up to ``level``),
    made by the model itself."""
    from fewshot_sep.model.support_attention import Support

    gen = torch.Generator().manual_seed(seed)
    magnitude = level * torch.rand(batch * clips, 1, 513, frames, generator=gen)
    with torch.no_grad():
        frame_tokens, band_tokens = model.clip_support_tokens(magnitude)
    per_episode = band_tokens.shape[1] * clips
    band = band_tokens.reshape(batch, per_episode, *band_tokens.shape[2:])
    frame = frame_tokens.reshape(batch, per_episode, -1) if frame_tokens is not None else None
    return Support(frame, torch.ones(batch, per_episode, dtype=torch.bool), band)


def test_a_fresh_band_attention_layer_leaves_the_warm_started_model_unchanged():
    from fewshot_sep.model import build_model

    plain = small_model(seed=3)
    torch.manual_seed(0)
    with_attention = build_model({"model": {**SMALL_MODEL, **BAND}}).eval()
    missing, unexpected = with_attention.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing
    assert all(name.startswith("separator.support_band_attention") for name in missing)
    magnitude = torch.rand(2, 1, 513, 20)
    conditioning = torch.randn(2, plain.conditioning_dim)
    expected = plain.separator.aligned_mask(magnitude, conditioning)
    got = with_attention.separator.aligned_mask(magnitude, conditioning, _support(with_attention, 2, 3))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("level", [0, 1, 2])  # the band split alone, a middle level, the deepest
def test_the_examples_features_are_the_mixtures_features_of_that_level(level):
    model = small_model(seed=1, **{**BAND, "support_band_level": level})
    separator = model.separator
    magnitude = 0.05 * torch.rand(2, 1, 513, 14)
    seen = []
    hook = separator.support_band_attention.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            separator(magnitude, torch.randn(2, model.conditioning_dim), support=_support(model, 2, 1))
    finally:
        hook.remove()
    features = separator.band_features(magnitude)
    assert features.shape == seen[0].shape == (2, SMALL_MODEL["channels"][level], separator.enc_bins[level], 14)
    torch.testing.assert_close(features, seen[0], rtol=1e-5, atol=1e-6)


def test_band_features_use_the_running_statistics_and_leave_them_alone_in_training():
    model = small_model(seed=2, **BAND)
    separator = model.separator
    magnitude = 0.05 * torch.rand(3, 1, 513, 10)
    expected = separator.band_features(magnitude)  # eval mode
    before = {name: buf.clone() for name, buf in separator.named_buffers()}
    separator.train()
    torch.testing.assert_close(separator.band_features(magnitude), expected, rtol=0, atol=0)
    for name, buf in separator.named_buffers():
        torch.testing.assert_close(buf, before[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("level", [0, 2])
def test_the_band_tokens_change_the_mask_and_streaming_equals_one_pass(level):
    model = small_model(seed=4, **{**BAND, "support_band_level": level})
    separator = model.separator
    magnitude = torch.rand(2, 1, 513, 12)
    conditioning = torch.randn(2, model.conditioning_dim)
    support = _support(model, 2, 2)
    with torch.no_grad():
        full = separator(magnitude, conditioning, support=support)[0]
        other = separator(magnitude, conditioning, support=_support(model, 2, 2, seed=9, level=5.0))[0]
        assert float((full - other).abs().max()) > 1e-4  # the examples matter
    streamed = frame_by_frame(separator, magnitude, conditioning, support=support)
    torch.testing.assert_close(streamed, full, rtol=1e-5, atol=1e-5)


def test_padded_band_tokens_are_ignored_and_an_episode_without_tokens_is_unchanged():
    from fewshot_sep.model.support_attention import Support

    model = small_model(seed=5, **BAND)
    magnitude = torch.rand(2, 1, 513, 8)
    conditioning = torch.randn(2, model.conditioning_dim)
    support = _support(model, 2, 2)
    extra = 3
    padded = Support(None, torch.cat([support.valid, torch.zeros(2, extra, dtype=torch.bool)], dim=1),
                     torch.cat([support.band_tokens, 100 * torch.randn(2, extra, *support.band_tokens.shape[2:])], 1))
    empty = Support(None, support.valid.clone(), support.band_tokens)
    empty.valid[1] = False
    with torch.no_grad():
        a = model.separator(magnitude, conditioning, support=support)[0]
        b = model.separator(magnitude, conditioning, support=padded)[0]
        c = model.separator(magnitude, conditioning, support=empty)[0]
        without = model.separator(magnitude, conditioning)[0]
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    assert torch.isfinite(c).all()
    torch.testing.assert_close(c[1], without[1], rtol=0, atol=0)
    torch.testing.assert_close(c[0], a[0], rtol=0, atol=0)


def test_training_feeds_both_kinds_of_tokens_and_the_band_layer_learns():
    from fewshot_sep.train.batches import make_batch
    from fewshot_sep.train.step import batch_loss, batch_support, to_tensors
    from fewshot_sep.train.synthetic import SyntheticSampler

    model = small_model(seed=6, **BOTH).train()
    source = SyntheticSampler(n_instruments=6, clip_seconds=0.5, support_seconds=0.5, k_range=(1, 3),
                              n_interferers=(1, 2), negative_prob=0.5, negatives_range=(1, 2), seed=5)
    batch = to_tensors(make_batch(source, step=0, batch_size=6, seed=0), torch.device("cpu"))
    support = batch_support(model, batch)
    bands = model.separator.enc_bins[BAND["support_band_level"]]
    # the two kinds of tokens share their slots: the same clips pooled over the same frames
    assert support.band_tokens.shape[:3] == (*support.tokens.shape[:2], bands)
    assert support.valid.shape == support.tokens.shape[:2]
    per_clip = support.band_tokens.shape[1] // int(torch.bincount(batch["support_episode"]).max()
                                                   + torch.bincount(batch["negative_episode"]).max())
    counts = torch.bincount(batch["support_episode"], minlength=6)
    negative_counts = torch.bincount(batch["negative_episode"], minlength=6) * (batch["has_negatives"] > 0)
    assert 0 < int(negative_counts.sum())
    assert support.valid.sum(dim=1).tolist() == ((counts + negative_counts) * per_clip).tolist()
    loss, _ = batch_loss(model, batch, {"sisdr_weight": 1.0, "magnitude_weight": 1.0})
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()
             if name.startswith("separator.support_band_attention")}
    assert grads and all(g is not None for g in grads.values())
    assert float(grads["separator.support_band_attention.out.weight"].abs().sum()) > 0


def test_the_token_path_sends_no_gradient_into_the_encoder_only_into_the_token_projection():
    model = small_model(seed=9, **BAND).train()
    _, band_tokens = model.clip_support_tokens(0.05 * torch.rand(2, 1, 513, 12))
    band_tokens.square().sum().backward()
    attention = model.separator.support_band_attention
    assert attention.token_in.weight.grad is not None and float(attention.token_in.weight.grad.abs().sum()) > 0
    assert model.separator.band_split.proj.weight.grad is None  # the encoder learns from the mixtures
    assert all(conv.conv.weight.grad is None for conv in model.separator.enc_convs)


def test_training_and_evaluation_make_the_same_band_tokens_from_the_same_clips(tmp_path):
    from fewshot_sep.eval.systems import TorchFewShot
    from fewshot_sep.train.batches import make_batch
    from fewshot_sep.train.checkpoint import save_checkpoint, save_config
    from fewshot_sep.train.step import batch_support, to_tensors
    from fewshot_sep.train.synthetic import SyntheticSampler

    model = small_model(seed=8, **BAND)
    save_config(tmp_path, {"model": {**SMALL_MODEL, **BAND}})
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": model.state_dict(), "step": 0})
    source = SyntheticSampler(n_instruments=6, clip_seconds=0.5, support_seconds=0.5, k_range=(2, 2),
                              n_interferers=(1, 2), negative_prob=1.0, negatives_range=(1, 1), seed=2)
    batch = make_batch(source, step=0, batch_size=1, seed=0)
    with torch.no_grad():
        train = batch_support(model, to_tensors(batch, torch.device("cpu")))
    system = TorchFewShot(tmp_path)
    evaluated = system.support_tokens(list(batch["support"]), list(batch["negatives"]))
    assert train.tokens is None and evaluated.tokens is None and bool(train.valid.all())
    # numpy vs torch STFT: ~1e-4 apart after the log; a swapped clip or token kind is ~0.1 apart
    torch.testing.assert_close(evaluated.band_tokens, train.band_tokens, rtol=1e-3, atol=1e-3)
    mixture = np.random.default_rng(0).standard_normal(6000).astype(np.float32) * 0.1
    vector = np.zeros(model.conditioning_dim, np.float32)
    assert np.abs(system.separate(mixture, vector, support=evaluated) - system.separate(mixture, vector)).max() > 1e-6


def test_bad_band_attention_settings_are_refused_with_the_fix(tmp_path):
    from fewshot_sep.model import build_model

    with pytest.raises(ValueError, match="support_band_attention -8 is invalid: use 0"):
        build_model({"model": {**SMALL_MODEL, "support_band_attention": -8}})
    with pytest.raises(ValueError, match="support_band_level 2 is invalid: use 0..1"):
        build_model({"model": {**SMALL_MODEL, **BAND, "support_band_level": 2, "band_gru": 8, "band_gru_level": 1}})
    with pytest.raises(ValueError, match="support_band_attention 10 with 4 heads"):
        build_model({"model": {**SMALL_MODEL, **BAND, "support_band_attention": 10, "support_band_heads": 4}})
    with pytest.raises(ValueError, match="support_band_attention needs example clips.* set it to 0"):
        build_model({"model": {**SMALL_MODEL, **BAND, "conditioning": "onehot", "num_classes": 4}})
    with pytest.raises(ValueError, match="needs band support attention"):
        small_model(seed=0).separator.band_features(torch.rand(1, 1, 513, 4))


def test_export_refuses_a_band_attention_model_instead_of_dropping_the_layer(tmp_path):
    pytest.importorskip("onnx")
    from fewshot_sep.export.exporter import export_model
    from fewshot_sep.utils.errors import UserError

    with pytest.raises(UserError, match="support_band_attention > 0.*evaluate it in torch"):
        export_model(small_model(seed=7, **BAND), tmp_path / "model")
    assert not (tmp_path / "model").exists()
