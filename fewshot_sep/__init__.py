"""fewshot-sep: few-shot music source separation for DAW chains and live use.

Layers (imports only point downward; see DESIGN.md):
cli -> plugin_host -> presets -> realtime -> export -> train/eval -> model -> data.
`realtime`, `presets`, `plugin_host` and the producer-facing CLI import no torch.
"""

__version__ = "0.1.0"
