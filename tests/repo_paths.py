"""Where the repository is, for tests in any folder under tests/ (and the helpers beside this file).

tests/ is on ``sys.path`` (pyproject.toml's pytest ``pythonpath``), so a test anywhere below it
writes ``from repo_paths import REPO``.
"""

from pathlib import Path

#: The repository root (the folder holding pyproject.toml).
REPO = Path(__file__).resolve().parent.parent
#: tests/: the helper modules (model_doubles, plugin_helpers, ...) live here.
TESTS = REPO / "tests"
