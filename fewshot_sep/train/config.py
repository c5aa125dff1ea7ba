"""Moved to :mod:`fewshot_sep.runs.config` (evaluation and export read run configs without the trainer).

Kept as a re-export for one release: runs in progress and their scripts import these names from here.
"""

from fewshot_sep.runs.config import (  # noqa: F401
    DEFAULTS,
    apply_overrides,
    load_config,
    resolve_config,
)
