"""Function-preserving widening (``fewshot_sep.model.widen``): a wider model started from a
narrower checkpoint computes exactly what the checkpoint did, and its new units can learn."""

import pytest

torch = pytest.importorskip("torch")

from model_test_config import SMALL_MODEL, small_model  # noqa: E402

NARROW = {"fine_head": 4, "band_gru": 6}
WIDE = {**NARROW, "channels": [10, 16, 24], "gru_hidden": 40, "band_gru": 9}


def _wide_from_narrow(dtype=torch.float64):
    from fewshot_sep.model import build_model
    from fewshot_sep.model.widen import widen_state_dict

    narrow = small_model(seed=3, **NARROW).to(dtype)
    torch.manual_seed(7)
    wide = build_model({"model": {**SMALL_MODEL, **WIDE}}).to(dtype)
    state, widened = widen_state_dict(narrow.state_dict(), wide)
    wide.load_state_dict(state, strict=True)  # every tensor is mapped: nothing stays fresh
    return narrow, wide, widened


def _separate(model, dtype, frames=30):
    gen = torch.Generator().manual_seed(11)
    magnitude = (0.02 * torch.rand(2, 1, 513, frames, generator=gen)).to(dtype)
    conditioning = torch.randn(2, model.conditioning_dim, generator=gen).to(dtype)
    return model.separator(magnitude, conditioning)[0]


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_widened_model_computes_what_the_narrow_one_did(mode):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the states are made in the default dtype
    try:
        narrow, wide, widened = _wide_from_narrow()
        narrow.train(mode == "train")
        wide.train(mode == "train")
        out_narrow = _separate(narrow, torch.float64)
        out_wide = _separate(wide, torch.float64)
    finally:
        torch.set_default_dtype(previous)
    # Every kind of separator layer is widened here: band split, strided convs, GRUs (gates),
    # FiLM (gamma/beta halves), transposed convs, BatchNorm, band merge, fine head.
    for name in ("separator.band_split.proj.weight", "separator.enc_convs.0.conv.weight", "separator.gru.weight_hh_l0",
                 "separator.band_gru.gru.weight_hh_l0", "separator.film_pre_gru.proj.weight",
                 "separator.dec_up.0.weight", "separator.split_norm.running_var", "separator.band_merge.proj.weight",
                 "separator.fine_head.band_proj.weight", "separator.bottleneck_in.weight"):
        assert name in widened, name
    assert float((out_narrow - out_wide).abs().max()) < 1e-12


def test_new_units_get_gradients_so_they_can_learn():
    narrow, wide, _ = _wide_from_narrow(torch.float32)
    wide.train()
    _separate(wide, torch.float32).square().mean().backward()
    # the zero weights leading out of the new units (old rows, new columns) are trained
    grad = wide.separator.bottleneck_out.weight.grad
    old_rows = narrow.separator.bottleneck_out.weight.shape[0]
    old_cols = narrow.separator.bottleneck_out.weight.shape[1]
    assert float(grad[:old_rows, old_cols:].abs().sum()) > 0


def test_narrower_or_reshaped_tensors_are_left_out():
    from fewshot_sep.model import build_model
    from fewshot_sep.model.widen import widen_state_dict

    wide = build_model({"model": {**SMALL_MODEL, **WIDE}})
    narrow = build_model({"model": {**SMALL_MODEL, **NARROW}})
    # wide -> narrow is not a widening: those tensors keep the model's own values
    state, widened = widen_state_dict(wide.state_dict(), narrow)
    assert not widened
    assert "separator.gru.weight_hh_l0" not in state
    assert "separator.input_scale" in state  # same shape: copied
    # a different band width changes a kernel-like axis, which cannot be widened, and the
    # number of bins the bottleneck flattens (its old channels are no longer a leading block)
    for band_width in (16, 4):
        other = build_model({"model": {**SMALL_MODEL, **NARROW, "band_width": band_width}})
        state, _ = widen_state_dict(narrow.state_dict(), other)
        assert "separator.band_split.proj.weight" not in state
        assert "separator.bottleneck_in.weight" not in state and "separator.bottleneck_out.weight" not in state
    # the clip encoder is never widened (mean/std pooling, L2-normalised output), nor the
    # conditioning vector's size
    other = build_model({"model": {**SMALL_MODEL, **NARROW, "encoder_hidden": 24, "embedding_dim": 24}})
    state, widened = widen_state_dict(narrow.state_dict(), other)
    assert not widened
    assert "encoder.proj.weight" not in state and "separator.context.0.weight" not in state


def test_init_from_a_narrower_run_widens_it(tmp_path, capsys):
    from train_test_helpers import smoke_config

    from fewshot_sep.model import build_model
    from fewshot_sep.train.checkpoint import read_checkpoint
    from fewshot_sep.train.loop import train

    train(smoke_config(total_steps=2), tmp_path / "narrow", progress=False)
    config = smoke_config(total_steps=1, lr=0.0, init_from=str(tmp_path / "narrow"))
    config["model"]["gru_hidden"] = 2 * int(config["model"]["gru_hidden"])
    train(config, tmp_path / "wide", progress=False)
    out = capsys.readouterr().out
    assert "widened" in out and "function-preserving" in out and "NOT" not in out
    narrow = read_checkpoint(tmp_path / "narrow" / "checkpoint.pt")["model"]
    wide = read_checkpoint(tmp_path / "wide" / "checkpoint.pt")["model"]
    hidden = narrow["separator.gru.weight_hh_l0"].shape[1]
    # lr 0: the old units' recurrent weights are the narrow run's, per gate, with zeros to the new units
    for gate in range(3):
        rows = wide["separator.gru.weight_hh_l0"][gate * 2 * hidden: gate * 2 * hidden + hidden]
        assert torch.equal(rows[:, :hidden], narrow["separator.gru.weight_hh_l0"][gate * hidden:(gate + 1) * hidden])
        assert not rows[:, hidden:].any()
    assert build_model(config).separator.gru_hidden == 2 * hidden


def test_init_from_says_so_when_the_result_is_not_function_preserving(tmp_path, capsys):
    from train_test_helpers import smoke_config

    from fewshot_sep.train.loop import train

    train(smoke_config(total_steps=1), tmp_path / "narrow", progress=False)
    config = smoke_config(total_steps=1, lr=0.0, init_from=str(tmp_path / "narrow"))
    # the separator's GRU is widened (preserving), but a wider clip encoder starts fresh:
    # the check compares the encoders' embeddings too, so it must not call this preserving
    config["model"]["gru_hidden"] = 2 * int(config["model"]["gru_hidden"])
    config["model"]["encoder_hidden"] = 2 * int(config["model"]["encoder_hidden"])
    train(config, tmp_path / "other", progress=False)
    assert "NOT function-preserving" in capsys.readouterr().out

