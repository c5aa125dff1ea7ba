"""Moved to :mod:`fewshot_sep.runs.checkpoint` (evaluation and export read run folders without the trainer).

Kept as a re-export for one release: runs in progress and their scripts import these names from here.
"""

from fewshot_sep.runs.checkpoint import (  # noqa: F401
    BEST_NAME,
    CHECKPOINT_NAME,
    CONFIG_NAME,
    load_checkpoint,
    publish_checkpoint,
    read_checkpoint,
    save_checkpoint,
    save_config,
)
