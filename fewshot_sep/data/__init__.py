"""Synthetic multitrack data: GM vocabulary, split, MIDI sources, rendering, episodes.

Modules (no torch anywhere in this package):

- `gm`: program names, families, drum kits, registers, roles; instrument labels.
- `split`: the fixed instrument / piece split of DESIGN.md.
- `notes`, `generator`, `corpus`: MIDI sources (procedural works, music21 corpus).
- `plan`, `synth`, `render`, `soundfonts`: the `fewshot-sep data render` pipeline.
- `manifest`: manifest.csv columns, reading, validation, summary.
- `episodes`: the few-shot episode sampler used by training and evaluation.
"""
