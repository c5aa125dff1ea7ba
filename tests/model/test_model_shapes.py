"""Separator, encoder and conditioning shapes and the public model API."""

import pytest

torch = pytest.importorskip("torch")

from model_test_config import SMALL_MODEL, small_model  # noqa: E402


@pytest.mark.parametrize("temporal", ["gru"])
@pytest.mark.parametrize("batch,frames", [(1, 1), (2, 37)])
def test_separator_shapes_and_range(temporal, batch, frames):
    model = small_model(temporal=temporal)
    sep = model.separator
    mag = torch.rand(batch, 1, 513, frames) * 10
    cond = torch.randn(batch, model.conditioning_dim)
    with torch.no_grad():
        out = sep(mag, cond, *sep.initial_states(batch))
    mask, states = out[0], out[1:]
    assert mask.shape == (batch, 1, 513, frames)
    assert float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0
    assert len(states) == len(sep.state_shapes)
    for state, shape in zip(states, sep.state_shapes):
        assert shape[0] is None
        assert list(state.shape) == [batch] + list(shape[1:])
    assert sep.lookahead_frames == 0


def test_encoder_and_dims():
    model = small_model()
    emb = model.encoder(torch.rand(3, 1, 513, 90))
    assert emb.shape == (3, SMALL_MODEL["embedding_dim"])
    assert model.embedding_dim == SMALL_MODEL["embedding_dim"]
    assert model.conditioning_dim == 2 * SMALL_MODEL["embedding_dim"] + 1
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-4)


def test_onehot_model_conditioning():
    model = small_model(conditioning="onehot", classes=[0, 40, 73])
    cond = model.conditioning_for_class(torch.tensor([0, 2]))
    assert cond.shape == (2, model.conditioning_dim)
    assert torch.all(cond[:, model.embedding_dim:] == 0)
    with pytest.raises(RuntimeError):
        small_model().conditioning_for_class(torch.tensor([0]))


def test_bad_config_values_are_refused():
    from fewshot_sep.model import build_model

    with pytest.raises(ValueError, match="conditioning"):
        build_model({"model": {**SMALL_MODEL, "conditioning": "zero-shot"}})
    with pytest.raises(ValueError, match="temporal"):
        build_model({"model": {**SMALL_MODEL, "temporal": "lstm"}})
