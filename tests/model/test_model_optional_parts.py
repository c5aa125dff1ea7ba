"""Optional separator parts (full-resolution head, per-band GRU): zero-initialised (a warm start keeps the model's output), then they matter;
the retired option of stage 17 (the head's frequency context) is dropped at off and refused on."""

import pytest

torch = pytest.importorskip("torch")

from fewshot_sep.model import build_model  # noqa: E402
from model_test_config import SMALL_MODEL  # noqa: E402


def _inputs(model, frames=12):
    gen = torch.Generator().manual_seed(3)
    return (torch.rand(2, 1, 513, frames, generator=gen) * 3,
            torch.randn(2, model.conditioning_dim, generator=gen))


@pytest.mark.parametrize("overrides,prefix,last_layer", [
    ({"fine_head": 6}, "separator.fine_head.", "fine_head.conv2"),
    ({"band_gru": 10, "band_gru_level": 1}, "separator.band_gru.", "band_gru.proj"),
])
def test_fresh_part_leaves_a_trained_models_output_unchanged_and_then_matters(overrides, prefix, last_layer):
    torch.manual_seed(0)
    plain = build_model({"model": SMALL_MODEL}).eval()
    extended = build_model({"model": {**SMALL_MODEL, **overrides}}).eval()
    missing, unexpected = extended.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith(prefix) for k in missing)
    mag, cond = _inputs(plain)
    with torch.no_grad():
        assert torch.equal(plain.separator(mag, cond)[0], extended.separator(mag, cond)[0])
        # Once its last layer is non-zero the part changes the mask.
        torch.nn.init.normal_(extended.separator.get_submodule(last_layer).weight, std=0.5)
        changed = extended.separator(mag, cond)[0]
    assert (changed - plain.separator(mag, cond)[0]).abs().max() > 1e-3


def test_fine_head_sees_the_previous_frame_through_the_state():
    """The head uses the previous input frame; streaming carries it in the band split's state."""
    torch.manual_seed(1)
    model = build_model({"model": {**SMALL_MODEL, "fine_head": 6}}).eval()
    torch.nn.init.normal_(model.separator.fine_head.conv2.weight, std=0.5)
    sep = model.separator
    mag, cond = _inputs(model, frames=2)
    with torch.no_grad():
        states = sep.initial_states(2)
        other = [s.clone() for s in states]
        other[0] += 1.0  # a different previous frame only
        a = sep(mag[..., :1], cond, *states)[0]
        b = sep(mag[..., :1], cond, *other)[0]
    assert (a - b).abs().max() > 1e-4


def test_input_gain_makes_quiet_bins_visible_and_is_checked():
    """log1p(gain * |X|): with gain 1000 a bin at 1e-3 is far from zero; gain <= 0 is refused by name."""
    torch.manual_seed(0)
    quiet = torch.full((1, 1, 513, 4), 1e-3)
    cond = torch.zeros(1, build_model({"model": SMALL_MODEL}).conditioning_dim)
    outputs = []
    for gain in (1.0, 1000.0):
        torch.manual_seed(0)
        model = build_model({"model": {**SMALL_MODEL, "input_gain": gain}}).eval()
        with torch.no_grad():
            outputs.append(model.separator(quiet, cond)[0])
    assert (outputs[0] - outputs[1]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="input_gain 0.0"):
        build_model({"model": {**SMALL_MODEL, "input_gain": 0.0}})


def test_fine_head_convolutions_keep_the_meaning_of_their_weights():
    """The head runs its frequency convolutions on [B, C, T, F] (fast in onnxruntime); the result
    must be that of its Conv2d modules on [B, C, F, T] (kernels (5, 1), (3, 1)), so checkpoints
    trained with either layout load unchanged."""
    from fewshot_sep.model.layers import FineHead

    torch.manual_seed(0)
    head = FineHead(channels=24, band_width=8, hidden=16)
    torch.nn.init.normal_(head.conv2.weight)  # the last layer starts at zero
    h, x, x_prev = torch.randn(2, 24, 16, 5), torch.randn(2, 1, 128, 5), torch.randn(2, 1, 128, 5)
    with torch.no_grad():
        per_bin = head.band_proj(h.permute(0, 3, 2, 1)).reshape(2, 5, 128, 4).permute(0, 3, 2, 1)
        reference = head.conv2(head.act(head.conv1(torch.cat([per_bin, x, x_prev], dim=1))))
        out = head(h, x, x_prev)
    assert out.shape == (2, 1, 128, 5)
    assert float((out - reference).abs().max()) < 1e-5
    assert float(reference.abs().max()) > 0.1


def test_a_config_with_the_retired_fine_head_context_off_loads_without_it(tmp_path):
    """Stage 17's ``model.fine_head_context`` left the tree: a config that carries it at 0 (off)
    loads, the key dropped, and builds the plain fine head."""
    from fewshot_sep.runs.config import load_config

    path = tmp_path / "old.yaml"
    path.write_text("model:\n  fine_head: 4\n  fine_head_context: 0\n", encoding="utf-8")
    config = load_config(path)
    assert "fine_head_context" not in config["model"] and config["model"]["fine_head"] == 4
    head = build_model(config).separator.fine_head
    assert head is not None and not any("context" in name for name, _ in head.named_parameters())


def test_a_config_that_turns_the_retired_fine_head_context_on_is_refused_naming_its_commit(tmp_path):
    from fewshot_sep.runs.config import load_config
    from fewshot_sep.utils.errors import UserError

    path = tmp_path / "stage17.yaml"
    path.write_text("model:\n  fine_head: 16\n  fine_head_context: 5\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"'model.fine_head_context' belonged to a retired experiment "
                                        r"\(.*git commit a032b32\): remove it, or set it to 0"):
        load_config(path)
