"""Second-stage training: warm start from another run (``train.init_from``) and the prototype loss."""

import pytest

torch = pytest.importorskip("torch")

from train_test_helpers import smoke_config  # noqa: E402


def test_init_from_copies_matching_weights_and_keeps_the_rest(tmp_path):
    from fewshot_sep.train.checkpoint import read_checkpoint
    from fewshot_sep.train.loop import train

    train(smoke_config(total_steps=3), tmp_path / "stage1", progress=False)
    stage1 = read_checkpoint(tmp_path / "stage1" / "checkpoint.pt")["model"]

    # A one-hot run from the few-shot run's separator: it starts with exactly its weights.
    config = smoke_config(total_steps=1, lr=0.0, init_from=str(tmp_path / "stage1"))
    config["model"]["conditioning"] = "onehot"
    train(config, tmp_path / "onehot", progress=False)
    onehot = read_checkpoint(tmp_path / "onehot" / "checkpoint.pt")["model"]
    separator_keys = [k for k in stage1 if k.startswith("separator.") and "running" not in k and "batches" not in k]
    assert separator_keys
    for key in separator_keys:
        assert torch.equal(stage1[key], onehot[key]), key  # lr 0: the step changed no weight
    assert "class_embedding.table.weight" in onehot and "class_embedding.table.weight" not in stage1


def test_init_from_an_unrelated_checkpoint_is_refused(tmp_path):
    from fewshot_sep.train.checkpoint import save_checkpoint
    from fewshot_sep.train.loop import train
    from fewshot_sep.utils.errors import UserError

    save_checkpoint(tmp_path / "other.pt", {"model": {"something.else": torch.zeros(3)}})
    with pytest.raises(UserError, match="init_from .*no weight matches"):
        train(smoke_config(total_steps=1, init_from=str(tmp_path / "other.pt")), tmp_path / "run", progress=False)


def test_prototype_loss_rewards_embeddings_that_separate_instruments():
    from fewshot_sep.train.losses import prototype_loss

    gen = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    centres = torch.nn.functional.normalize(torch.randn(3, 16, generator=gen), dim=-1)
    clustered = torch.nn.functional.normalize(centres[labels] + 0.05 * torch.randn(8, 16, generator=gen), dim=-1)
    scattered = torch.nn.functional.normalize(torch.randn(8, 16, generator=gen), dim=-1)
    assert prototype_loss(clustered, labels) < 0.5 * prototype_loss(scattered, labels)
    # one instrument only: nothing to discriminate, zero loss that still backpropagates
    emb = scattered.clone().requires_grad_(True)
    single = prototype_loss(emb, torch.zeros(8, dtype=torch.long))
    assert float(single.detach()) == 0.0
    single.backward()
    assert emb.grad is not None


def test_smoke_training_with_the_prototype_loss_runs(tmp_path):
    from fewshot_sep.train.loop import train

    summary = train(smoke_config(total_steps=4, prototype_weight=1.0), tmp_path / "run", progress=False)
    assert summary["step"] == 4 and summary["last_loss"] == summary["last_loss"]  # finite, not NaN
