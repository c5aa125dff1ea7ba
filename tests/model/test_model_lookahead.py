"""The look-ahead separator (studio tier): output frame t is the mask of input frame t - L.

Checked here: the aligned mask of frame u depends on input frames <= u + L and on
nothing later; the look-ahead really is used; an untrained look-ahead layer turns a
causal checkpoint into the same masks, L frames late (the warm start of the studio
model); and the training config accepts ``--set`` overrides for it.
"""

import pytest

torch = pytest.importorskip("torch")

from model_test_config import small_model  # noqa: E402

LOOKAHEAD = 3


def _inputs(frames: int, conditioning_dim: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(2, 1, 513, frames, generator=gen) * 5,
            torch.randn(2, conditioning_dim, generator=gen))


def test_aligned_mask_sees_exactly_lookahead_frames_ahead():
    model = small_model(lookahead_frames=LOOKAHEAD, fine_head=6)
    sep = model.separator
    mag, cond = _inputs(40, model.conditioning_dim)
    u = 20
    later = mag.clone()
    later[..., u + LOOKAHEAD + 1:] *= 9.0          # beyond the look-ahead of frame u
    within = mag.clone()
    within[..., u + LOOKAHEAD] *= 9.0              # the last frame frame u may see
    with torch.no_grad():
        base = sep.aligned_mask(mag, cond)
        a = sep.aligned_mask(later, cond)
        b = sep.aligned_mask(within, cond)
    assert base.shape == (2, 1, 513, 40)
    assert torch.equal(base[..., : u + 1], a[..., : u + 1])
    assert (base[..., u] - b[..., u]).abs().max() > 1e-4


def test_untrained_lookahead_is_a_pure_delay_of_the_causal_model():
    causal = small_model(seed=3, fine_head=6)
    studio = small_model(seed=4, fine_head=6, lookahead_frames=LOOKAHEAD)
    missing, unexpected = studio.load_state_dict(causal.state_dict(), strict=False)
    assert not unexpected and all(name.startswith("separator.lookahead.") for name in missing)
    torch.nn.init.zeros_(studio.separator.lookahead.out.weight)
    torch.nn.init.zeros_(studio.separator.lookahead.out.bias)
    mag, cond = _inputs(30, causal.conditioning_dim, seed=5)
    with torch.no_grad():
        reference = causal.separator(mag, cond)[0]
        delayed = studio.separator(mag, cond)[0]
        aligned = studio.separator.aligned_mask(mag, cond)
    assert torch.allclose(delayed[..., LOOKAHEAD:], reference[..., :-LOOKAHEAD], atol=1e-6)
    assert torch.allclose(aligned, reference, atol=1e-6)


def test_lookahead_state_shapes_and_bad_values():
    from fewshot_sep.model.separator import Separator

    sep = small_model(lookahead_frames=LOOKAHEAD).separator
    assert sep.lookahead_frames == LOOKAHEAD
    assert [None, 24, LOOKAHEAD] in sep.state_shapes        # bottleneck history (gru_hidden 24)
    assert len(sep.initial_states(1)) == sep.n_states
    with pytest.raises(ValueError, match="lookahead_frames -1"):
        Separator(conditioning_dim=9, lookahead_frames=-1)


def test_config_overrides_set_nested_values(tmp_path):
    from fewshot_sep.train.config import load_config
    from fewshot_sep.utils.errors import UserError

    path = tmp_path / "run.yaml"
    path.write_text("name: t\nmodel: {gru_hidden: 24}\n", encoding="utf-8")
    config = load_config(path, ["model.lookahead_frames=4", "train.lr=3e-4", "data.k_range=[1, 3]"])
    assert config["model"]["lookahead_frames"] == 4 and config["model"]["gru_hidden"] == 24
    assert config["train"]["lr"] == pytest.approx(3e-4) and config["data"]["k_range"] == [1, 3]
    with pytest.raises(UserError, match="SECTION.KEY=VALUE"):
        load_config(path, ["model.lookahead_frames"])
    with pytest.raises(UserError, match="unknown"):
        load_config(path, ["model.lookahed_frames=4"])


def test_lr_scale_puts_a_new_layer_in_its_own_faster_group():
    from fewshot_sep.train.loop import parameter_groups
    from fewshot_sep.utils.errors import UserError

    model = small_model(lookahead_frames=LOOKAHEAD)
    params = list(model.parameters())
    assert parameter_groups(model, params, None) == [{"params": params, "lr_scale": 1.0}]
    groups = parameter_groups(model, params, {"separator.lookahead": 10})
    by_scale = {g["lr_scale"]: g["params"] for g in groups}
    lookahead = list(model.separator.lookahead.parameters())
    assert set(map(id, by_scale[10.0])) == set(map(id, lookahead))
    assert len(by_scale[1.0]) == len(params) - len(lookahead)
    with pytest.raises(UserError, match="names no trained parameter"):
        parameter_groups(model, params, {"separator.lookahed": 10})
    with pytest.raises(UserError, match="positive factor"):
        parameter_groups(model, params, {"separator.lookahead": -1})
