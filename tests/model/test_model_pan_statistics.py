"""Pan statistics in the stereo separator (``model.pan_memory_seconds``): running pan
histograms of target and rest, whose per-bin log-likelihood ratio tells bins apart by their
place in the stereo image; a stage-18 model grows into one exactly, and it streams like one pass."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from model_test_config import SMALL_MODEL, perturbed_model, streamed_in_chunks  # noqa: E402

STEREO = {**SMALL_MODEL, "fine_head": 6, "stereo_input": True}
PAN = {"model": {**STEREO, "pan_memory_seconds": 0.05}}  # about 9 frames: the test streams decay


def _hard_panned(frames: int = 40, seed: int = 0):
    """Own/other magnitudes ``[1, 1, 64, T]``: even bins only in this channel (the "target"),
    odd bins only in the other one, plus the hint mask 0.55 / 0.45 a weak coarse mask gives."""
    gen = torch.Generator().manual_seed(seed)
    level = torch.rand(1, 1, 64, frames, generator=gen) + 0.5
    target = torch.zeros(1, 1, 64, 1)
    target[:, :, ::2] = 1.0
    own, other = level * target, level * (1.0 - target)
    hint = 0.45 + 0.1 * target.expand_as(level)
    return own, other, hint, target.expand_as(level)


def test_a_hard_panned_target_gets_a_positive_ratio_and_the_rest_a_negative_one():
    from fewshot_sep.model.layers import PanStatistics

    stats = PanStatistics(decay=0.99)
    own, other, hint, target = _hard_panned()
    llr, state = stats(own, other, hint, torch.zeros(1, 2, stats.bins))
    assert state.shape == (1, 2, stats.bins)
    late = llr[..., 10:]
    assert late[target[..., 10:] > 0].min() > 0.1
    assert late[target[..., 10:] == 0].max() < -0.1


def test_a_mono_input_or_an_empty_history_gives_no_ratio():
    from fewshot_sep.model.layers import PanStatistics

    stats = PanStatistics(decay=0.99)
    own, _, hint, _ = _hard_panned()
    llr, _ = stats(own, own, hint, torch.zeros(1, 2, stats.bins))
    assert llr.abs().max() < 1e-5
    silent = torch.zeros_like(own)
    llr, _ = stats(silent, silent, hint, torch.zeros(1, 2, stats.bins))
    assert llr.abs().max() < 1e-5


def test_chunked_running_sums_equal_one_chunk():
    from fewshot_sep.model.layers import PanStatistics

    own, other, hint, _ = _hard_panned(frames=37, seed=1)
    other = other + 0.3 * own.flip(2)  # bins spread over several pan steps
    whole = PanStatistics(decay=0.95)
    chunked = PanStatistics(decay=0.95)
    chunked.CHUNK = 5
    state = torch.rand(1, 2, whole.bins)
    a, sa = whole(own, other, hint, state)
    b, sb = chunked(own, other, hint, state)
    assert (a - b).abs().max() < 1e-4 and (sa - sb).abs().max() < 1e-3 * sa.abs().max()


def test_a_stereo_model_grows_pan_statistics_and_computes_what_it_did():
    """Warm start from a stage-18-like model: the per-bin weight and the fine head's new input
    plane start at zero (the plane through the function-preserving widening)."""
    from fewshot_sep.model import build_model
    from fewshot_sep.model.widen import widen_state_dict

    stereo = perturbed_model({"model": STEREO})
    grown = build_model(PAN).eval()
    state, widened = widen_state_dict(stereo.state_dict(), grown)
    assert "separator.fine_head.conv1_extra.weight" in widened
    missing, unexpected = grown.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) == {"separator.pan_weight"}
    gen = torch.Generator().manual_seed(2)
    mag = torch.rand(2, 2, 513, 30, generator=gen) * 3
    cond = torch.randn(2, stereo.conditioning_dim, generator=gen)
    with torch.no_grad():
        expected = stereo.separator(mag, cond)[0]
        got = grown.separator(mag, cond)[0]
    assert (got - expected).abs().max() < 1e-6


@pytest.mark.parametrize("chunks", [[1] * 20, [3, 1, 7, 9]])
def test_pan_statistics_stream_like_one_pass_and_change_the_mask(chunks):
    model = perturbed_model(PAN)
    sep = model.separator
    gen = torch.Generator().manual_seed(3)
    mag = torch.rand(2, 2, 513, sum(chunks), generator=gen) * 3
    cond = torch.randn(2, model.conditioning_dim, generator=gen)
    streamed = streamed_in_chunks(sep, mag, cond, chunks)
    with torch.no_grad():
        full = sep(mag, cond)[0]
        sep.pan_weight.zero_()
        sep.fine_head.conv1_extra.weight[:, 2:].zero_()
        without = sep(mag, cond)[0]
    assert (streamed - full).abs().max() < 1e-4
    assert (full - without).abs().max() > 1e-3


def test_pan_statistics_without_stereo_input_are_refused_by_name():
    from fewshot_sep.model import build_model

    with pytest.raises(ValueError, match="pan_memory_seconds 3.0 needs model.stereo_input"):
        build_model({"model": {**SMALL_MODEL, "pan_memory_seconds": 3.0}})
    with pytest.raises(ValueError, match="pan_memory_seconds -1.0 is invalid"):
        build_model({"model": {**STEREO, "pan_memory_seconds": -1.0}})
