"""scripts/conditioning_tuning.py: the tuned vector is scored against the plain one on the same episodes."""

import re

import pytest

from eval_fixtures import make_synthetic_dataset
from script_helpers import load_script, tiny_torch_run

torch = pytest.importorskip("torch")


def _row(output: str) -> list[str]:
    lines = [line for line in output.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(lines) == 1, output
    return [cell.strip() for cell in lines[0].strip("|").split("|")]


def test_a_vanishing_step_scores_the_plain_vector(tmp_path, capsys):
    data = make_synthetic_dataset(tmp_path / "data", n_works=4, seconds=5.0)
    run = tiny_torch_run(tmp_path / "run")
    script = load_script("conditioning_tuning")
    common = [str(run), "--data", str(data), "--split", "test_unseen", "--bed-split", "test",
              "--episodes", "2", "--beds", "1"]

    # a step too small to move the vector: tuned == plain on every episode
    assert script.main(common + ["--steps", "1", "--lr", "1e-12"]) == 0
    row = _row(capsys.readouterr().out)
    assert row[1] == row[2] and row[3].startswith("+0.00 [+0.00, +0.00]") and row[4] in ("+0.00", "-0.00")


def test_tuning_lowers_the_tuning_loss_of_a_model_that_listens_to_its_conditioning():
    from model_test_config import small_model

    script = load_script("conditioning_tuning")
    model = small_model()  # FiLM randomised: the conditioning matters
    for param in model.parameters():
        param.requires_grad_(False)
    gen = torch.Generator().manual_seed(0)
    latency = 1023
    t = torch.arange(22050) / 44100.0
    targets = torch.nn.functional.pad(torch.stack([0.3 * torch.sin(2 * torch.pi * f * t) for f in (220.0, 330.0)]),
                                      (0, latency))
    mixtures = targets + 0.3 * torch.nn.functional.pad(torch.randn(2, 22050, generator=gen), (0, latency))
    start = torch.randn(model.conditioning_dim, generator=gen).numpy() * 0.1
    tuned, before, after = script.tune_vector(model, latency, start, targets, mixtures, steps=10, lr=0.05)
    assert after < before - 0.01, (before, after)
    assert tuned.shape == start.shape and abs(tuned - start).max() > 1e-3
    same, before0, after0 = script.tune_vector(model, latency, start, targets, mixtures, steps=2, lr=1e-12)
    assert abs(same - start).max() < 1e-9 and after0 == pytest.approx(before0, abs=1e-6)
    half = (start.size - 1) // 2
    positive, _, _ = script.tune_vector(model, latency, start, targets, mixtures, steps=3, lr=0.05,
                                        tuned_entries=half)
    assert abs(positive[:half] - start[:half]).max() > 1e-3 and abs(positive[half:] - start[half:]).max() == 0


def test_bad_arguments_are_refused():
    script = load_script("conditioning_tuning")
    with pytest.raises(SystemExit):
        script.main(["models/release", "--steps", "0"])
