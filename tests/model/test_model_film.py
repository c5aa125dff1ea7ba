"""FiLM conditioning changes the separator output; a different support set gives a different mask."""

import pytest

torch = pytest.importorskip("torch")

from model_test_config import small_model  # noqa: E402


@pytest.mark.parametrize("film_decoder", [True, False])
def test_conditioning_changes_mask(film_decoder):
    model = small_model(film_decoder=film_decoder)
    sep = model.separator
    gen = torch.Generator().manual_seed(3)
    mag = torch.rand(1, 1, 513, 12, generator=gen) * 3
    a = torch.randn(1, model.conditioning_dim, generator=gen)
    b = torch.randn(1, model.conditioning_dim, generator=gen)
    with torch.no_grad():
        diff = (sep(mag, a)[0] - sep(mag, b)[0]).abs().max()
        same = (sep(mag, a)[0] - sep(mag, a.clone())[0]).abs().max()
    assert diff > 1e-3
    assert same == 0


def test_fresh_model_film_is_identity_but_trainable():
    """FiLM starts as the identity (zero init) and still receives gradients."""
    from fewshot_sep.model import build_model
    from model_test_config import SMALL_MODEL

    model = build_model({"model": SMALL_MODEL})
    sep = model.separator
    mag = torch.rand(2, 1, 513, 8)
    cond = torch.randn(2, model.conditioning_dim)
    sep(mag, cond)[0].sum().backward()
    assert sep.film_pre_gru.proj.weight.grad.abs().sum() > 0
