"""scripts/export_release.sh says "new model_id" (and rebuilds the built-in presets) only when it changed.

The export and the preset build are stood in for by a fake interpreter (PYTHON), so the
test needs no torch and never touches the packaged model (OUT is a temp folder).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from repo_paths import REPO as ROOT

FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-m" ]; then   # -m fewshot_sep export SRC --out OUT ...: write a card with $FAKE_ID
    out=""; prev=""
    for a in "$@"; do [ "$prev" = "--out" ] && out="$a"; prev="$a"; done
    mkdir -p "$out"
    printf '{\\n  "format_version": 1,\\n  "model_id": "%s"\\n}\\n' "$FAKE_ID" > "$out/model_card.json"
else                        # scripts/build_builtin_presets.py --model OUT
    echo "presets rebuilt" >> "$PRESET_LOG"
fi
"""


def _export(tmp_path: Path, model_id: str, **extra: str) -> tuple[str, int]:
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / "presets.log"
    env = {**os.environ, "PYTHON": str(fake), "OUT": str(tmp_path / "model"), "FAKE_ID": model_id,
           "PRESET_LOG": str(log), **extra}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "export_release.sh"), "runs/some-checkpoint"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr, len(log.read_text().splitlines()) if log.exists() else 0


def test_new_model_id_only_when_it_changed(tmp_path):
    said, builds = _export(tmp_path, "aaaa000011112222")
    assert "new model_id: none -> aaaa000011112222" in said and builds == 1
    said, builds = _export(tmp_path, "aaaa000011112222")  # the same export again
    assert "new model_id" not in said and "model_id unchanged (aaaa000011112222)" in said and builds == 1
    said, builds = _export(tmp_path, "aaaa000011112222", FORCE_PRESETS="1")
    assert "model_id unchanged" in said and builds == 2
    said, builds = _export(tmp_path, "bbbb000011112222")
    assert "new model_id: aaaa000011112222 -> bbbb000011112222" in said and builds == 3
    said, builds = _export(tmp_path, "cccc000011112222", SKIP_PRESETS="1")
    assert "new model_id" in said and builds == 3
