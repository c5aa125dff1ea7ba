"""The conditioning encoder: support-set mean is permutation-invariant, gain-invariant, and the
torch conditioning vector matches the documented layout."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from model_test_config import small_model  # noqa: E402
from fewshot_sep.model import build_conditioning, conditioning_from_support  # noqa: E402
from fewshot_sep.model import stft as S  # noqa: E402


def _clips(n, seconds=1.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 44100)) / 44100
    clips = [0.2 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.02 * rng.standard_normal(len(t))
             for _ in range(n)]
    return torch.from_numpy(np.stack(clips).astype(np.float32))


def test_support_set_is_permutation_invariant():
    model = small_model()
    clips = _clips(5)
    with torch.no_grad():
        emb = model.encoder(S.stft(clips).abs().unsqueeze(1))
        perm = torch.tensor([3, 0, 4, 1, 2])
        emb_perm = model.encoder(S.stft(clips[perm]).abs().unsqueeze(1))
    a = conditioning_from_support(emb[None])
    b = conditioning_from_support(emb_perm[None])
    assert torch.allclose(a, b, atol=1e-5)
    # different clips give a different vector (the check can fail)
    with torch.no_grad():
        other = model.encoder(S.stft(_clips(5, seed=9)).abs().unsqueeze(1))
    assert (conditioning_from_support(other[None]) - a).abs().max() > 1e-3


def test_embedding_ignores_overall_gain():
    model = small_model()
    clips = _clips(2)
    with torch.no_grad():
        a = model.encoder(S.stft(clips).abs().unsqueeze(1))
        b = model.encoder(S.stft(clips * 0.25).abs().unsqueeze(1))
    assert torch.allclose(a, b, atol=0.05)


def test_conditioning_layout_matches_docs():
    pos = torch.randn(3, 4)
    neg = torch.randn(3, 4)
    without = build_conditioning(pos)
    assert torch.equal(without, torch.cat([pos, torch.zeros(3, 4), torch.zeros(3, 1)], -1))
    with_neg = build_conditioning(pos, neg)
    assert torch.equal(with_neg, torch.cat([pos, neg, torch.ones(3, 1)], -1))
    # batched support: episodes without negatives get zeros and flag 0
    batched = conditioning_from_support(pos[:, None].repeat(1, 2, 1), neg[:, None], torch.tensor([1.0, 0.0, 1.0]))
    assert torch.equal(batched[0], with_neg[0]) and torch.equal(batched[1], without[1])


def test_numpy_conditioning_agrees_when_available():
    conditioning = pytest.importorskip("fewshot_sep.realtime.conditioning")
    rng = np.random.default_rng(0)
    pos, neg = rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    for negative in (None, neg):
        ref = conditioning.build_conditioning(pos, negative)
        got = build_conditioning(torch.from_numpy(pos), None if negative is None else torch.from_numpy(negative))
        np.testing.assert_allclose(ref, got.numpy(), atol=0)
