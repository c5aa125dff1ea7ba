"""Output frame t of the separator depends on input frames <= t + lookahead only."""

import pytest

torch = pytest.importorskip("torch")

from model_test_config import small_model  # noqa: E402


@pytest.mark.parametrize("temporal,extra", [("gru", {}), ("gru", {"fine_head": 6}),
                                            ("gru", {"band_gru": 10, "band_gru_level": 1}),
                                            ("gru", {"fine_head": 6, "band_gru": 10, "band_gru_level": 1})])
def test_future_frames_do_not_change_the_past(temporal, extra):
    model = small_model(temporal=temporal, **extra)
    sep = model.separator
    gen = torch.Generator().manual_seed(0)
    mag = torch.rand(2, 1, 513, 40, generator=gen) * 5
    cond = torch.randn(2, model.conditioning_dim, generator=gen)
    t = 25
    changed = mag.clone()
    changed[..., t + 1 + sep.lookahead_frames:] = torch.rand(2, 1, 513, 40 - t - 1 - sep.lookahead_frames,
                                                             generator=gen) * 50
    with torch.no_grad():
        a = sep(mag, cond)[0]
        b = sep(changed, cond)[0]
    assert torch.equal(a[..., : t + 1], b[..., : t + 1])
    # ...and the future frames do change (the test can fail).
    assert (a[..., t + 1:] - b[..., t + 1:]).abs().max() > 1e-3
