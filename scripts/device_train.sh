#!/usr/bin/env bash
# Training on the lent GPU machine (the device tool's `run`), from the repository root.
#
# Carry (device tool `carry`): .whl (soundfile + cffi + pycparser wheels for that machine's
# Python 3.12, which lacks them) and the .devdata/part-* of this call (scripts/device_data.py
# pack); a warm machine keeps what earlier calls carried. MODE says what this call does:
#   decode  decode the parts present into data/device/decoded (a call that carries one more part)
#   unpack  decode what is left and assemble the memory-mapped stem array of all parts present
#   train   train CONFIG into $OUT/run (RUN_DIR to choose), whose files come back: config.json,
#           log.csv, checkpoint.pt and the EMA snapshots; unpacks first unless UNPACK=0
#   check   unpack, then a short run (MAX_STEPS steps, default 120) to see that the CUDA path
#           works and how fast the batches come, without the schedule
#
#   MODE=decode bash scripts/device_train.sh                          # calls that carry parts a..e
#   MODE=unpack bash scripts/device_train.sh                          # the call that carries part f
#   MODE=unpack ROWS=.devrows bash scripts/device_train.sh            # or a call with no part, after all
#   UNPACK=0 CONFIG=configs/release-stage8.yaml bash scripts/device_train.sh   # the run
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
CONFIG=${CONFIG:-configs/release-stage8.yaml}
RUN_DIR=${RUN_DIR:-${OUT:-runs}/run}
MODE=${MODE:-train}
if ! "$PY" -c "import soundfile" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi"
echo "cpus: $(nproc); parts here: $(ls -d .devdata/part-* 2>/dev/null | tr '\n' ' ')"
start=$(date +%s)
if [ "$MODE" = decode ]; then
    "$PY" scripts/device_data.py unpack .devdata/part-* --config "$CONFIG" --out data/device --decode-only
    echo "decoded in $(( $(date +%s) - start )) s"
    exit 0
fi
if [ "$MODE" != train ] || [ "${UNPACK:-1}" = 1 ]; then
    # the parts carried by earlier calls are gone there (each call's carry replaces .devdata), but
    # their stems are in the decode cache: decode this call's part, then assemble from the rows
    # of every part (ROWS: a folder of part-*/rows.json, carried whole, default .devdata)
    # (a call may carry no part at all: then everything comes from the cache)
    if ls -d .devdata/part-* >/dev/null 2>&1; then
        "$PY" scripts/device_data.py unpack .devdata/part-* --config "$CONFIG" --out data/device --decode-only
    fi
    "$PY" scripts/device_data.py unpack "${ROWS:-.devdata}"/part-* --config "$CONFIG" --out data/device
    echo "unpacked in $(( $(date +%s) - start )) s"
fi
case "$MODE" in
    unpack) exit 0 ;;
    check)
        rm -rf "$RUN_DIR"
        "$PY" -m fewshot_sep train "$CONFIG" --run-dir "$RUN_DIR" --max-steps "${MAX_STEPS:-120}" --max-minutes 1.0 --no-progress ;;
    train)
        "$PY" -m fewshot_sep train "$CONFIG" --run-dir "$RUN_DIR" --no-progress ;;
    *) echo "MODE=$MODE is not one of decode, unpack, train, check" >&2; exit 2 ;;
esac
cat "$RUN_DIR/log.csv" 2>/dev/null || echo "(no log rows yet)"
ls -la "$RUN_DIR"
echo "total $(( $(date +%s) - start )) s"
