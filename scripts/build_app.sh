#!/usr/bin/env bash
# Build the standalone one-folder app with PyInstaller (spec: build.spec).
#
#   bash scripts/build_app.sh [DISTDIR [WORKDIR]]
#
# Result: DISTDIR/fewshot-sep/fewshot-sep (default DISTDIR = dist, WORKDIR = build).
# Needs the project venv (make setup); installs PyInstaller into it if missing.
# Environment: VENV (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
DISTDIR="${1:-dist}"
WORKDIR="${2:-build}"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "build_app: no virtual environment at $VENV; run 'make setup' (or bash scripts/setup.sh) first" >&2
    exit 1
fi
if ! "$VENV/bin/python" -c "import PyInstaller" 2>/dev/null; then
    echo "build_app: installing PyInstaller into $VENV"
    "$VENV/bin/python" -m pip install -q "pyinstaller>=6.0"
fi

start=$(date +%s)
"$VENV/bin/python" -m PyInstaller build.spec --noconfirm --log-level WARN --distpath "$DISTDIR" --workpath "$WORKDIR"
end=$(date +%s)
app="$DISTDIR/fewshot-sep"
echo "build_app: built $app/fewshot-sep in $((end - start)) s; folder size $(du -sh "$app" | cut -f1)"
