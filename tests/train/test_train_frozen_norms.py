"""train.trainable: frozen batch norms compute in training exactly what they compute at inference
(train.frozen_norms: running, the default), or use batch statistics (batch, how stage 9 ran)."""

import copy

import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


def _model_and_input():
    from fewshot_sep.model import build_model

    torch.manual_seed(0)
    model = build_model(smoke_config(total_steps=1))
    for module in model.modules():  # statistics far from any batch's, so the two ways differ
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0.0, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    gen = torch.Generator().manual_seed(1)
    magnitude = torch.rand(3, 1, 513, 12, generator=gen) * 2
    conditioning = torch.randn(3, model.conditioning_dim, generator=gen)
    return model, magnitude, conditioning


def test_a_partly_frozen_model_in_training_mode_computes_its_inference_output():
    from fewshot_sep.train.loop import trainable_parameters

    model, magnitude, conditioning = _model_and_input()
    with torch.no_grad():
        inference = model.eval().separator(magnitude, conditioning)[0]
        # on a copy: a forward in training mode also updates the running statistics
        batch_stats = copy.deepcopy(model).train().separator(magnitude, conditioning)[0]
    assert (batch_stats - inference).abs().max() > 1e-3  # the test can fail: training mode differs by default
    trainable_parameters(model, ["separator.fine_head"])
    trainable_parameters(model, ["separator.fine_head"])  # a second call adds no second hook
    norm = model.separator.split_norm
    assert len(norm._forward_pre_hooks) == 1
    model.train()
    with torch.no_grad():
        frozen = model.separator(magnitude, conditioning)[0]
    assert torch.allclose(frozen, inference, atol=1e-6)
    assert norm.running_mean.abs().sum() > 0 and norm.momentum == 0.0


def test_batch_mode_keeps_batch_statistics_and_bad_values_are_refused():
    from fewshot_sep.train.config import resolve_config
    from fewshot_sep.train.loop import trainable_parameters
    from fewshot_sep.utils.errors import UserError

    model, magnitude, conditioning = _model_and_input()
    with torch.no_grad():
        before = model.train().separator(magnitude, conditioning)[0]
    running = model.separator.split_norm.running_mean.clone()
    trainable_parameters(model, ["separator.fine_head"], frozen_norms="batch")
    model.train()
    with torch.no_grad():
        after = model.separator(magnitude, conditioning)[0]
    assert torch.allclose(before, after, atol=1e-6)  # still batch statistics...
    assert torch.equal(model.separator.split_norm.running_mean, running)  # ...and the statistics stay frozen
    with pytest.raises(UserError, match="train.frozen_norms 'eval' is invalid"):
        resolve_config({"train": {"frozen_norms": "eval"}})
