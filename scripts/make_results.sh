#!/usr/bin/env bash
# Regenerate docs/results.md (+ docs/results/*.png) for the committed model.
#
#   bash scripts/make_results.sh            # 250 episodes per split (seen + unseen = 500)
#   EPISODES=50 bash scripts/make_results.sh
#
# Evaluates the packaged ONNX model (fewshot_sep/assets/model, offline and streamed),
# the torch checkpoint (models/release, else runs/release) and the one-hot baseline
# (models/onehot, else runs/onehot; skipped with a note if neither exists) on
# data/render (render it first: fewshot-sep data render). The run folder
# runs/eval-results keeps the per-episode CSV and the listening page; rerunning
# with the same settings resumes. Needs the `train` extra (torch, fast_bss_eval, matplotlib).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
EPISODES=${EPISODES:-250}
WORKERS=${WORKERS:-2}
exec "$PY" -m fewshot_sep evaluate --data data/render --split test test_unseen --episodes "$EPISODES" \
    --seed 0 --k 1 3 5 10 --negatives both --interferers 2 4 --workers "$WORKERS" --listen 2 \
    --out runs/eval-results --results-md docs/results.md "$@"
