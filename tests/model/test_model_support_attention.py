"""Support attention (model.support_attention): bottleneck frames attend to the examples'
frame tokens. Warm starts compute what the model without it did, streaming equals one pass,
padding is ignored, and training and evaluation feed it the episode's clips."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_test_config import SMALL_MODEL, frame_by_frame, small_model  # noqa: E402

ATTENTION = {"support_attention": 8, "support_heads": 2, "support_pool_frames": 4}


def _tokens(batch: int, count: int, width: int = 8, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, count, width, generator=gen), torch.ones(batch, count, dtype=torch.bool)


def test_a_fresh_attention_layer_leaves_the_warm_started_model_unchanged():
    from fewshot_sep.model import build_model

    plain = small_model(seed=3)
    torch.manual_seed(0)
    with_attention = build_model({"model": {**SMALL_MODEL, **ATTENTION}}).eval()  # the layer as built
    # copy the shared weights, as a warm start does; the attention layer keeps its initial weights
    missing, unexpected = with_attention.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(name.startswith("separator.support_attention") for name in missing)
    magnitude = torch.rand(2, 1, 513, 20)
    conditioning = torch.randn(2, plain.conditioning_dim)
    expected = plain.separator.aligned_mask(magnitude, conditioning)
    got = with_attention.separator.aligned_mask(magnitude, conditioning, _tokens(2, 6))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_an_episode_without_a_valid_token_is_left_as_it_was_not_nan():
    model = small_model(seed=5, **ATTENTION)
    magnitude = torch.rand(2, 1, 513, 6)
    conditioning = torch.randn(2, model.conditioning_dim)
    tokens, valid = _tokens(2, 4)
    valid[1] = False
    with torch.no_grad():
        mask = model.separator(magnitude, conditioning, support=(tokens, valid))[0]
        without = model.separator(magnitude, conditioning)[0]
    assert torch.isfinite(mask).all()
    torch.testing.assert_close(mask[1], without[1], rtol=0, atol=0)
    assert float((mask[0] - without[0]).abs().max()) > 1e-4


def test_the_tokens_change_the_mask_and_streaming_equals_one_pass():
    model = small_model(seed=1, **ATTENTION)
    separator = model.separator
    magnitude = torch.rand(2, 1, 513, 12)
    conditioning = torch.randn(2, model.conditioning_dim)
    support = _tokens(2, 5)
    with torch.no_grad():
        full = separator(magnitude, conditioning, support=support)[0]
        other = separator(magnitude, conditioning, support=_tokens(2, 5, seed=9))[0]
        assert float((full - other).abs().max()) > 1e-4  # the examples matter
    streamed = frame_by_frame(separator, magnitude, conditioning, support=support)
    torch.testing.assert_close(streamed, full, rtol=1e-5, atol=1e-5)


def test_padded_tokens_are_ignored():
    model = small_model(seed=2, **ATTENTION)
    magnitude = torch.rand(1, 1, 513, 8)
    conditioning = torch.randn(1, model.conditioning_dim)
    tokens, valid = _tokens(1, 4)
    padded = torch.cat([tokens, 100 * torch.randn(1, 3, 8)], dim=1)
    padded_valid = torch.cat([valid, torch.zeros(1, 3, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        a = model.separator(magnitude, conditioning, support=(tokens, valid))[0]
        b = model.separator(magnitude, conditioning, support=(padded, padded_valid))[0]
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_episode_tokens_gathers_each_episodes_clips_in_order():
    from fewshot_sep.model.support_attention import episode_tokens

    tokens = torch.randn(5, 3, 4)
    episode = torch.tensor([1, 0, 1, 1, 0])
    padded, valid = episode_tokens(tokens, episode, 3)
    assert padded.shape == (3, 9, 4) and valid.shape == (3, 9)
    torch.testing.assert_close(padded[0, :6], torch.cat([tokens[1], tokens[4]]))
    torch.testing.assert_close(padded[1], torch.cat([tokens[0], tokens[2], tokens[3]]))
    assert valid.sum(dim=1).tolist() == [6, 9, 0]
    assert not padded[0, 6:].any() and not padded[2].any()


def test_bad_attention_settings_are_refused_with_the_fix():
    from fewshot_sep.model import build_model
    from fewshot_sep.model.support_attention import SupportAttention

    with pytest.raises(ValueError, match="support_attention -8 is invalid: use 0"):
        build_model({"model": {**SMALL_MODEL, "support_attention": -8}})
    with pytest.raises(ValueError, match="one-hot baseline .* set it to 0"):
        build_model({"model": {**SMALL_MODEL, **ATTENTION, "conditioning": "onehot", "num_classes": 4}})

    with pytest.raises(ValueError, match="divisible by the number of heads"):
        SupportAttention(16, 8, attention_dim=10, heads=4)
    with pytest.raises(ValueError, match="support_pool_frames 0"):
        SupportAttention(16, 8, attention_dim=8, heads=2, pool_frames=0)


def test_training_feeds_the_examples_and_negatives_and_the_layer_learns():
    from fewshot_sep.model import stft as S
    from fewshot_sep.train.batches import make_batch
    from fewshot_sep.train.step import batch_loss, batch_support, to_tensors
    from fewshot_sep.train.synthetic import SyntheticSampler

    model = small_model(seed=4, **ATTENTION).train()
    source = SyntheticSampler(n_instruments=6, clip_seconds=0.5, support_seconds=0.5, k_range=(1, 3),
                              n_interferers=(1, 2), negative_prob=0.5, negatives_range=(1, 2), seed=5)
    batch = to_tensors(make_batch(source, step=0, batch_size=6, seed=0), torch.device("cpu"))
    support = batch_support(model, batch)
    tokens, valid = support.tokens, support.valid
    assert support.band_tokens is None  # no band attention in this model
    per_clip = -(-S.stft(batch["support"][:1]).shape[-1] // 4)  # a clip's frames pooled by 4 (ceil)
    counts = torch.bincount(batch["support_episode"], minlength=6)
    negative_counts = torch.bincount(batch["negative_episode"], minlength=6) * (batch["has_negatives"] > 0)
    assert 0 < int(negative_counts.sum()) and tokens.shape[:2] == valid.shape
    assert valid.sum(dim=1).tolist() == ((counts + negative_counts) * per_clip).tolist()
    loss, _ = batch_loss(model, batch, {"sisdr_weight": 1.0, "magnitude_weight": 1.0})
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters() if name.startswith("separator.support_attention")}
    assert grads and all(g is not None for g in grads.values())
    assert float(grads["separator.support_attention.out.weight"].abs().sum()) > 0


def test_torch_evaluation_system_builds_tokens_from_the_clips(tmp_path):
    from fewshot_sep.eval.systems import TorchFewShot
    from fewshot_sep.train.checkpoint import save_checkpoint, save_config

    model = small_model(seed=6, **ATTENTION)
    config = {"model": {**SMALL_MODEL, **ATTENTION}}
    save_config(tmp_path, config)
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": model.state_dict(), "step": 0})
    system = TorchFewShot(tmp_path)
    rng = np.random.default_rng(0)
    examples = [rng.standard_normal(8000).astype(np.float32) * 0.1 for _ in range(2)]
    negatives = [rng.standard_normal(6000).astype(np.float32) * 0.1]
    tokens, valid, band_tokens = system.support_tokens(examples, negatives)
    assert tokens.shape[0] == 1 and bool(valid.all()) and band_tokens is None
    assert tokens.shape[1] == valid.shape[1] > system.support_tokens(examples).tokens.shape[1]
    mixture = rng.standard_normal(6000).astype(np.float32) * 0.1
    vector = np.zeros(model.conditioning_dim, np.float32)
    with_examples = system.separate(mixture, vector, support=(tokens, valid))
    without = system.separate(mixture, vector)
    assert with_examples.shape == mixture.shape and np.abs(with_examples - without).max() > 1e-6


def test_export_refuses_a_support_attention_model_instead_of_dropping_the_layer(tmp_path):
    pytest.importorskip("onnx")
    from fewshot_sep.export.exporter import export_model
    from fewshot_sep.utils.errors import UserError

    model = small_model(seed=7, **ATTENTION)
    with pytest.raises(UserError, match="support attention .* evaluate it in torch"):
        export_model(model, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_training_and_evaluation_make_the_same_tokens_from_the_same_clips(tmp_path):
    from fewshot_sep.eval.systems import TorchFewShot
    from fewshot_sep.train.batches import make_batch
    from fewshot_sep.train.checkpoint import save_checkpoint, save_config
    from fewshot_sep.train.step import batch_support, to_tensors
    from fewshot_sep.train.synthetic import SyntheticSampler

    model = small_model(seed=8, **ATTENTION)
    config = {"model": {**SMALL_MODEL, **ATTENTION}}
    save_config(tmp_path, config)
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": model.state_dict(), "step": 0})
    source = SyntheticSampler(n_instruments=6, clip_seconds=0.5, support_seconds=0.5, k_range=(2, 2),
                              n_interferers=(1, 2), negative_prob=1.0, negatives_range=(1, 1), seed=2)
    batch = make_batch(source, step=0, batch_size=1, seed=0)
    with torch.no_grad():
        train_tokens, train_valid, _ = batch_support(model, to_tensors(batch, torch.device("cpu")))
    eval_tokens = TorchFewShot(tmp_path).support_tokens(list(batch["support"]), list(batch["negatives"])).tokens
    assert bool(train_valid.all())
    # numpy vs torch STFT: ~1e-4 apart after the log; a swapped clip or token kind is ~0.1 apart
    torch.testing.assert_close(eval_tokens, train_tokens, rtol=1e-3, atol=1e-3)
