"""The tests' small torch models, built one way (fast on CPU).

- `SMALL_MODEL` / `small_model`: the separator and encoder of the model and training tests.
- `perturbed_model`: any config's model in eval mode with every weight made to matter. A freshly
  built model has zero-initialised FiLM layers (conditioning has no effect) and identity
  BatchNorm statistics; perturbing all parameters and running statistics means a wrong
  conditioning vector, a dropped normalisation or a mixed-up state changes the output. Used by
  `small_model` and by the export tests' `export_helpers.tiny_model` (the smoke config's model).
- `frame_by_frame`: a separator's masks streamed one frame per call (to compare with one pass);
  `streamed_in_chunks`: the same in calls of given frame counts.
- `TINY_MODEL` / `save_tiny_run`: the smallest model, untrained, as a run folder
  (``config.json`` + ``checkpoint.pt``) for the evaluation tests.
"""

from __future__ import annotations

from pathlib import Path

SMALL_MODEL = {
    "embedding_dim": 16, "channels": [8, 12, 16], "band_width": 8, "gru_hidden": 24, "context_dim": 24,
    "encoder_mels": 32, "encoder_hidden": 16, "decoder_conv_levels": 1,
}
TINY_MODEL = {"embedding_dim": 16, "channels": [8, 8, 8], "gru_hidden": 16, "context_dim": 16,
              "encoder_hidden": 16, "decoder_conv_levels": 1}


def perturbed_model(config: dict, seed: int = 0, scale: float = 0.1):
    """``build_model(config)`` (seeded) in eval mode, every parameter moved by `scale` x N(0, 1) and
    the BatchNorm running statistics randomised."""
    import torch

    from fewshot_sep.model import build_model

    torch.manual_seed(seed)
    model = build_model(config)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(scale * torch.randn(param.shape, generator=gen))
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.normal_(0.0, 0.2, generator=gen)
                module.running_var.uniform_(0.5, 2.0, generator=gen)
    return model.eval()


def small_model(seed: int = 0, **overrides):
    """The small model (`SMALL_MODEL` with `overrides`) in eval mode, every weight made to matter."""
    return perturbed_model({"model": {**SMALL_MODEL, **overrides}}, seed)


def save_tiny_run(folder: Path, seed: int = 0, **overrides) -> Path:
    """A run folder of an untrained, seeded `TINY_MODEL` (with `overrides`); returns `folder`."""
    import torch

    from fewshot_sep.model import build_model
    from fewshot_sep.train.checkpoint import save_checkpoint, save_config

    torch.manual_seed(seed)
    config = {"model": {**TINY_MODEL, **overrides}}
    folder.mkdir(parents=True)
    save_config(folder, config)
    save_checkpoint(folder / "checkpoint.pt", {"model": build_model(config).state_dict(), "step": 0})
    return folder


def streamed_in_chunks(separator, magnitude, conditioning, chunks):
    """``separator``'s mask of ``magnitude [B, P, 513, T]`` streamed in calls of ``chunks`` frames
    (summing to T) from its initial states: ``[B, 1, 513, T]``."""
    import torch

    states, outs, pos = separator.initial_states(magnitude.shape[0]), [], 0
    with torch.no_grad():
        for n in chunks:
            out, *states = separator(magnitude[..., pos:pos + n], conditioning, *states)
            outs.append(out)
            pos += n
    return torch.cat(outs, dim=-1)


def frame_by_frame(separator, magnitude, conditioning, **kwargs):
    """``separator``'s mask of ``magnitude [B, 1, 513, T]`` streamed one frame per call from its
    initial states (``kwargs`` passed to every call, e.g. ``support``): ``[B, 1, 513, T]``."""
    import torch

    states = separator.initial_states(magnitude.shape[0])
    frames = []
    with torch.no_grad():
        for t in range(magnitude.shape[-1]):
            out, *states = separator(magnitude[..., t:t + 1], conditioning, *states, **kwargs)
            frames.append(out)
    return torch.cat(frames, dim=-1)
