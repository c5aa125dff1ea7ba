"""ClipEncoder on the encoder double, and the conditioning vector layout."""

from __future__ import annotations

import numpy as np
import pytest

from fewshot_sep.realtime.conditioning import build_conditioning, split_conditioning
from fewshot_sep.realtime.encoder import ClipEncoder
from fewshot_sep.realtime.stft import stft
from fewshot_sep.utils.errors import UserError
from model_doubles import EMBEDDING_DIM, reference_embedding

SR = 44100


def _tone(freq: float, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.1 * np.sin(2 * np.pi * 3 * freq * t)).astype(np.float32)


def test_embeddings_match_the_double_and_separate_timbres(identity_model):
    encoder = ClipEncoder(identity_model)
    clips = [_tone(220), _tone(3000), _tone(220, seconds=2.0)]
    emb = encoder.embed(clips)
    assert emb.shape == (3, EMBEDDING_DIM) and emb.dtype == np.float32
    for clip, row in zip(clips, emb):
        expected = reference_embedding(np.abs(stft(clip[None]))[:, None])[0]
        np.testing.assert_allclose(row, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert emb[0] @ emb[2] > 0.99 > emb[0] @ emb[1]


@pytest.mark.parametrize(
    "clips, message",
    [
        ([], "no clips"),
        ([np.zeros(1000, dtype=np.float32)], "at least 1.0 s"),
        ([np.zeros((2, SR * 2), dtype=np.float32)], "mono"),
        ([np.full(SR * 2, np.nan, dtype=np.float32)], "NaN"),
        ([np.zeros(SR * 2, dtype=np.int16)], "dtype int16"),
    ],
)
def test_bad_clips(identity_model, clips, message):
    with pytest.raises(UserError, match=message):
        ClipEncoder(identity_model).embed(clips)


def test_build_conditioning_layout():
    pos = np.arange(4, dtype=np.float32)
    neg = -np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(build_conditioning(pos), [0, 1, 2, 3, 0, 0, 0, 0, 0])
    vec = build_conditioning(pos, neg)
    np.testing.assert_array_equal(vec, [0, 1, 2, 3, 0, -1, -2, -3, 1])
    back_pos, back_neg = split_conditioning(vec)
    np.testing.assert_array_equal(back_pos, pos)
    np.testing.assert_array_equal(back_neg, neg)
    assert split_conditioning(build_conditioning(pos))[1] is None
    with pytest.raises(UserError, match="must match"):
        build_conditioning(pos, neg[:3])
    with pytest.raises(UserError, match="NaN"):
        build_conditioning(np.array([np.nan, 1.0]))
