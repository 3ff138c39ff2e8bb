#!/usr/bin/env bash
# The receptive-field candidates of the susceptibility network trained one after the other, for a
# GPU machine lent for a few minutes (rule (c) of scripts/train_susceptibility.py picks among them):
#   OUT=results/ scripts/receptive_field_burst.sh [SECONDS_PER_CANDIDATE] [extra train_susceptibility options]
# Candidates (CANDIDATES="CUTOFF:STEM ..."): SDM half-width 4.8 A with first layer pool, stride and none;
# 7.2 A pool; 9.6 A pool.
# Each runs `scripts/train_susceptibility.py cnn --no-baselines --no-commit` (so it needs python3 with
# torch, numba, numpy, scipy, onnx and onnxruntime, and neither OVITO, freud nor LightGBM) under a time
# limit, and its folder (model.onnx, card.json, metrics.json, log) is packed into
# $OUT/<run>.tar.gz.  A candidate cut off by its limit keeps its per-epoch checkpoint in the pack:
# the same command resumes it (unpack into runs/ first).  The baselines and the selection run later on
# any machine: `glassml evaluate`, then `scripts/train_susceptibility.py` (stages outputs onwards).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder that receives the packs}
LIMIT=${1:-100}
shift || true
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
$PY -c "import torch; print('torch', torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu')"
for cand in ${CANDIDATES:-4.8:pool 4.8:stride 4.8:none 7.2:pool 9.6:pool}; do
  cutoff=${cand%%:*}; stem=${cand##*:}
  run=$($PY scripts/train_susceptibility.py --plan --cutoff "$cutoff" --stem "$stem" "$@" \
        | $PY -c "import json,sys; print(json.load(sys.stdin)['run'])")
  echo "== $run (limit ${LIMIT} s)"
  timeout "$LIMIT" $PY scripts/train_susceptibility.py cnn --cutoff "$cutoff" --stem "$stem" --no-baselines \
    --no-commit "$@"
  echo "== $run: exit $?"
  tail -n 5 "runs/$run/cnn.log" 2>/dev/null
  tar -czf "$OUT/$run.tar.gz" -C runs "$run" 2>/dev/null
done
ls -la "$OUT"
