#!/usr/bin/env bash
# Stage-7 training on the lent GPU machine (the device tool's `run`), from the repository root.
#
# Carry (device tool `carry`): .whl (soundfile + cffi + pycparser wheels for that machine's
# Python 3.12, which lacks them) and .devdata/part-* (scripts/device_data.py pack). It decodes
# the parts present into data/device, then trains configs/release-stage7.yaml into $OUT/run
# (RUN_DIR to choose), whose files come back: config.json, log.csv, checkpoint.pt and the
# EMA snapshots. MODE=check: a short run (MAX_STEPS steps, default 120) to see that the CUDA
# path works and how fast the batches come, without the schedule.
#
#   MODE=check bash scripts/device_train.sh
#   bash scripts/device_train.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
CONFIG=${CONFIG:-configs/release-stage7.yaml}
RUN_DIR=${RUN_DIR:-${OUT:-runs}/run}
if ! "$PY" -c "import soundfile" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi"
echo "cpus: $(nproc)"
start=$(date +%s)
"$PY" scripts/device_data.py unpack .devdata/part-* --config "$CONFIG" --out data/device
echo "unpacked in $(( $(date +%s) - start )) s"
if [ "${MODE:-train}" = check ]; then
    rm -rf "$RUN_DIR"
    "$PY" -m fewshot_sep train "$CONFIG" --run-dir "$RUN_DIR" --max-steps "${MAX_STEPS:-120}" --max-minutes 1.0 --no-progress
else
    "$PY" -m fewshot_sep train "$CONFIG" --run-dir "$RUN_DIR" --no-progress
fi
cat "$RUN_DIR/log.csv" 2>/dev/null || echo "(no log rows yet)"
ls -la "$RUN_DIR"
echo "total $(( $(date +%s) - start )) s"
