"""Run Python code in a fresh interpreter where torch (and any other named package) cannot be imported.

As on a machine, or in the standalone app, that has no torch installed: every ``import torch`` (or
``torch.*``) raises ImportError. The tests use it through the ``no_torch`` fixture (tests/conftest.py);
this module is the one place that builds the blocker.

The code runs after the blocker, which imports ``sys`` and also defines ``imported(*names)``: the loaded modules of those
top-level packages (all the checked ones when no names are given), so a test ends with
``assert not imported(), imported()``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


_BLOCKER = """
import importlib.abc

class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in CHECKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, _Blocked())
"""
_IMPORTED = """
def imported(*names):
    return sorted(m for m in sys.modules if m.split(".")[0] in (names or CHECKED))

"""


def prelude(checked: tuple[str, ...] = ("torch",), block: bool = True) -> str:
    """Source that makes the `checked` top-level packages unimportable (unless not `block`) and defines
    ``imported``."""
    return f"import sys\nCHECKED = {tuple(checked)!r}\n" + (_BLOCKER if block else "") + _IMPORTED


def run_without_torch(code: str, *args, also: tuple[str, ...] = (), block: bool = True, timeout: float = 120,
                      **kwargs) -> subprocess.CompletedProcess:
    """``python -c`` the (dedented) `code` with torch and the packages in `also` blocked; `args` are
    its ``sys.argv[1:]``; `kwargs` go to ``subprocess.run`` (``cwd``, ``env``). Output is captured as text.

    ``block=False`` blocks nothing and only provides ``imported``: for a check that importing a module
    loads no torch where torch is installed.
    """
    source = prelude(("torch", *also), block) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", source, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)
