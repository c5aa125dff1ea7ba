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
# run-time layers have a model with the release interface. The model_id is a hash of
# the exported graphs: when the export changed it, the built-in presets (made with the
# old id) are rebuilt afterwards (scripts/build_builtin_presets.py), unless SKIP_PRESETS=1;
# when it did not (the same checkpoint exported again), they still match and are kept
# (FORCE_PRESETS=1 rebuilds them anyway). Needs torch (the `train` extra).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-fewshot_sep/assets/model}
# The model_id in a model card, or "" (read without Python: PY may be any interpreter).
model_id() { [ -f "$1/model_card.json" ] && sed -n 's/.*"model_id": *"\([^"]*\)".*/\1/p' "$1/model_card.json" | head -n 1 || true; }
OLD_ID=$(model_id "$OUT")
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
NEW_ID=$(model_id "$OUT")
if [ "$NEW_ID" = "$OLD_ID" ]; then
    echo "model_id unchanged ($NEW_ID): the built-in presets still match it" >&2
    REBUILD=${FORCE_PRESETS:-0}
else
    echo "new model_id: ${OLD_ID:-none} -> $NEW_ID" >&2
    REBUILD=1
fi
if [ "${SKIP_PRESETS:-0}" != "1" ] && [ "$REBUILD" = "1" ] && [ -f scripts/build_builtin_presets.py ]; then
    echo "rebuilding the built-in presets for model_id $NEW_ID" >&2
    "$PY" scripts/build_builtin_presets.py --model "$OUT"
fi
