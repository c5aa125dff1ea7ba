"""Numbers the user docs state about the packaged model match its model card."""

from __future__ import annotations

import json

from repo_paths import REPO as ROOT


def test_presets_doc_states_the_packaged_clip_length():
    card = json.loads((ROOT / "fewshot_sep" / "assets" / "model" / "model_card.json").read_text())
    text = (ROOT / "docs" / "presets.md").read_text()
    assert f"`clip_seconds` ({card['clip_seconds']:g} s for the" in text.replace("\n", " ").replace("  ", " ")
    assert f"`min_clip_seconds` ({card['min_clip_seconds']:g} s)" in text.replace("\n", " ")
