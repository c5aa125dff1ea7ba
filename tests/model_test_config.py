"""A small separator/encoder config shared by the model and training tests (fast on CPU)."""

SMALL_MODEL = {
    "embedding_dim": 16, "channels": [8, 12, 16], "band_width": 8, "gru_hidden": 24, "context_dim": 24,
    "encoder_mels": 32, "encoder_hidden": 16, "decoder_conv_levels": 1,
}


def small_model(seed: int = 0, **overrides):
    """The small model in eval mode, with FiLM and BatchNorm statistics randomised so every part matters."""
    import torch

    from fewshot_sep.model import build_model

    torch.manual_seed(seed)
    model = build_model({"model": {**SMALL_MODEL, **overrides}})
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=gen))
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.normal_(0.0, 0.2, generator=gen)
                module.running_var.uniform_(0.5, 2.0, generator=gen)
    return model.eval()
