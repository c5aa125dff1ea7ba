#!/usr/bin/env bash
# Export the release model into the package: fewshot_sep/assets/model/
# (separator.onnx, encoder.onnx, model_card.json), verified against torch.
#
#   bash scripts/export_release.sh                 # newest of runs/release, models/release (best.pt first)
#   bash scripts/export_release.sh runs/release --latest   # the latest checkpoint.pt instead of best.pt
#   bash scripts/export_release.sh runs/release/checkpoint.pt
#
# Arguments after the source go to `fewshot-sep export` unchanged.
# Without any checkpoint it exports an UNTRAINED placeholder built from
# configs/release.yaml (the card says "training": {"status": "untrained"}), so the
# run-time layers have a model with the release interface. A new export has a new
# model_id, so the built-in presets are rebuilt afterwards
# (scripts/build_builtin_presets.py) unless SKIP_PRESETS=1. Needs torch (the `train` extra).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=fewshot_sep/assets/model
SRC=${1:-}
shift || true
if [ -z "$SRC" ]; then
    newest=""
    for cand in runs/release models/release; do
        if [ -f "$cand/checkpoint.pt" ] && { [ -z "$newest" ] || [ "$cand/checkpoint.pt" -nt "$newest/checkpoint.pt" ]; }; then
            newest=$cand
        fi
    done
    SRC=$newest
fi
if [ -n "$SRC" ]; then
    echo "exporting $SRC -> $OUT" >&2
    "$PY" -m fewshot_sep export "$SRC" --out "$OUT" --name fewshot-sep-release --force "$@"
else
    echo "no checkpoint in runs/release or models/release: exporting an UNTRAINED placeholder from configs/release.yaml" >&2
    "$PY" -m fewshot_sep export configs/release.yaml --untrained --out "$OUT" --name fewshot-sep-release --force "$@"
fi
du -sh "$OUT" >&2
if [ "${SKIP_PRESETS:-0}" != "1" ] && [ -f scripts/build_builtin_presets.py ]; then
    echo "rebuilding the built-in presets for the new model_id" >&2
    "$PY" scripts/build_builtin_presets.py --model "$OUT"
fi
