"""Run folders: the run config and the checkpoints (torch), shared by training, evaluation and export.

- :mod:`~fewshot_sep.runs.config`: run configs (YAML in ``configs/``, merged over the
  defaults, checked; ``config.json`` in a run folder is the resolved config);
- :mod:`~fewshot_sep.runs.checkpoint`: ``checkpoint.pt`` / ``best.pt`` read and written
  atomically (``torch.load(weights_only=True)``: no pickled classes), the model of a run
  rebuilt from its ``config.json``, and publishing a run's model for the repository.

The trainer (``fewshot_sep.train``) writes run folders, evaluation and export read them;
none of them imports another's package for it. ``fewshot_sep.train.config`` and
``fewshot_sep.train.checkpoint`` re-export these names (old import paths, one release).
"""
