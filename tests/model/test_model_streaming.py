"""Streaming the separator frame by frame (and in uneven chunks) with cached state equals one full pass."""

import pytest

torch = pytest.importorskip("torch")

from model_test_config import small_model  # noqa: E402


@pytest.mark.parametrize("temporal,extra", [("gru", {}), ("gru", {"fine_head": 6}),
                                            ("gru", {"band_gru": 10, "band_gru_level": 1}),
                                            ("gru", {"band_gru": 10, "band_gru_level": 0}),
                                            ("gru", {"fine_head": 6, "band_gru": 10, "band_gru_level": 1}),
                                            ("gru", {"lookahead_frames": 3, "fine_head": 6, "band_gru": 10,
                                                     "band_gru_level": 1}),
                                            ("gru", {"lookahead_frames": 0, "lookahead_hidden": 8})])
@pytest.mark.parametrize("chunks", [[1] * 30, [3, 1, 7, 19]])
def test_stream_equals_full_pass(temporal, extra, chunks):
    model = small_model(temporal=temporal, **extra)
    sep = model.separator
    gen = torch.Generator().manual_seed(1)
    frames = sum(chunks)
    mag = torch.rand(2, 1, 513, frames, generator=gen) * 3
    cond = torch.randn(2, model.conditioning_dim, generator=gen)
    with torch.no_grad():
        full = sep(mag, cond, *sep.initial_states(2))[0]
        states = sep.initial_states(2)
        outs, pos = [], 0
        for n in chunks:
            out = sep(mag[..., pos:pos + n], cond, *states)
            outs.append(out[0])
            states = list(out[1:])
            pos += n
    streamed = torch.cat(outs, dim=-1)
    assert (streamed - full).abs().max() < 1e-4


def test_state_carries_information():
    """A stream continued with zeroed states differs: the states are really used."""
    model = small_model()
    sep = model.separator
    gen = torch.Generator().manual_seed(2)
    mag = torch.rand(1, 1, 513, 20, generator=gen) * 3
    cond = torch.randn(1, model.conditioning_dim, generator=gen)
    with torch.no_grad():
        full = sep(mag, cond)[0]
        restarted = sep(mag[..., 10:], cond, *sep.initial_states(1))[0]
    assert (full[..., 10:] - restarted).abs().max() > 1e-4
