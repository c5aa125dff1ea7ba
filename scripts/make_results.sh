#!/usr/bin/env bash
# Regenerate docs/results.md (+ docs/results/*.png) for the committed model.
#
#   bash scripts/make_results.sh            # 250 episodes per split (seen + unseen = 500)
#   EPISODES=50 bash scripts/make_results.sh
#   ROBUST=0 bash scripts/make_results.sh   # without the robustness suite (ROBUST_EPISODES=60 per cell)
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
"$PY" -m fewshot_sep evaluate --data data/render --split test test_unseen --episodes "$EPISODES" \
    --seed 0 --k 1 3 5 10 --negatives both --interferers 2 4 --workers "$WORKERS" --listen 2 \
    --out runs/eval-results --results-md docs/results.md "$@"
# The robustness suite (its section of docs/results.md): needs data/robust
# (fewshot-sep data render-robust --out data/robust --workers 2, about 4 minutes).
if [[ "${ROBUST:-1}" == 1 ]]; then
    "$PY" -m fewshot_sep evaluate --suite robust --data data/robust --split test test_unseen \
        --episodes "${ROBUST_EPISODES:-60}" --seed 0 --k 1 5 --negatives both --workers "$WORKERS" --listen 1 \
        --out runs/eval-robust --results-md docs/results.md
fi
