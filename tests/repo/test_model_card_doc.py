"""docs/model-card.md: a card a user reads (short), whose quality figures are the generated ones.

The test and robustness figures of the card must be those of docs/results.md, which
`bash scripts/make_results.sh` writes; regenerating the results for another model makes
this test fail until the card follows. The stage-by-stage history is frozen in
docs/history/model-card-log.md.
"""

import re

from repo_paths import REPO

CARD = REPO / "docs" / "model-card.md"
FIGURE = re.compile(r"[+-]\d+\.\d\d\b")  # a dB figure as results.md prints it: +5.50, -0.10


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n### ", start + len(heading))
    return text[start:end if end >= 0 else None]


def test_the_card_is_short():
    assert len(CARD.read_text(encoding="utf-8").splitlines()) <= 300


def test_the_cards_quality_figures_are_the_generated_ones():
    card = CARD.read_text(encoding="utf-8")
    results = set(FIGURE.findall((REPO / "docs" / "results.md").read_text(encoding="utf-8")))
    for heading in ("### Held-out test episodes", "### Robustness: music unlike the training renders"):
        figures = FIGURE.findall(_section(card, heading))
        assert len(figures) > 20, heading
        missing = sorted(set(figures) - results)
        assert not missing, f"{heading}: not in docs/results.md: {missing}"


def test_the_history_is_kept_frozen_and_linked():
    log = REPO / "docs" / "history" / "model-card-log.md"
    text = log.read_text(encoding="utf-8")
    assert text.startswith("> **Frozen history.**")
    assert "### Stage 8: 9 minutes on a lent H200" in text  # the release's own section
    assert "history/model-card-log.md" in CARD.read_text(encoding="utf-8")
