#!/bin/sh
# Runs one of the contest's own scripts (`python train.py --steps N` in <models dir>/<MODEL>, as
# reference/tianchi/run_models.py does) with rectune's knobs mapped to DeepRec's switches. Used by
# Experiments/contest/deeprec-external.yaml; run from the repository root.
#
#   deeprec-train.sh --model WDL [--scale F] [--allocator system|adaptive]
#       [--alloc-warmup-start N] [--alloc-warmup-steps N] [--stage baseline|on|off] [--bf16 on|off]
#       [--micro-batch N] [--emb-fusion on|off] [--op-fusion on|off] [--inter-threads N] [--intra-threads N]
#
# Mapping: allocator → ENABLE_MEMORY_OPTIMIZATION (system 0, adaptive 1); alloc_warmup_start/steps →
# START_STATISTIC_STEP / STOP_STATISTIC_STEP (= start + steps); stage → --smartstaged True|False
# (baseline: the script's own default); bf16 → --bf16; micro_batch > 1 → --micro_batch N;
# emb_fusion/op_fusion → --emb_fusion/--op_fusion True|False; inter/intra threads → --inter/--intra.
# Environment: DEEPREC_MODELS_DIR (default /tianchi/models), PYTHON (default python).
#
# Caveats of the contest's scripts (not of this wrapper): set_env_for_DeepRec() overwrites
# ENABLE_MEMORY_OPTIMIZATION and START_/STOP_STATISTIC_STEP — change its lines to
# os.environ.setdefault(...) for the exported values to take effect; and the scored scripts have no
# --micro_batch, --inter or --intra option (DeepRec's modelzoo versions do), so asking for them makes
# the script exit with argparse's "unrecognized arguments", which the harness stores as a failed run.
set -eu
models_dir=${DEEPREC_MODELS_DIR:-/tianchi/models}
python=${PYTHON:-python}
model=""; scale=1; args=""; start=100; warm=10
bool() { case "$2" in on) echo True;; off) echo False;; *) echo "deeprec-train.sh: $1 must be on or off, got '$2'" >&2; exit 2;; esac; }
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "deeprec-train.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --model) model=$2;;
    --scale) scale=$2;;
    --allocator)
      case "$2" in
        system) export ENABLE_MEMORY_OPTIMIZATION=0;;
        adaptive) export ENABLE_MEMORY_OPTIMIZATION=1;;
        *) echo "deeprec-train.sh: --allocator must be system or adaptive, got '$2'" >&2; exit 2;;
      esac;;
    --alloc-warmup-start) start=$2;;
    --alloc-warmup-steps) warm=$2;;
    --stage) [ "$2" = baseline ] || args="$args --smartstaged $(bool --stage "$2")";;
    --bf16) [ "$(bool --bf16 "$2")" = False ] || args="$args --bf16";;
    --micro-batch) [ "$2" = 1 ] || args="$args --micro_batch $2";;
    --emb-fusion) args="$args --emb_fusion $(bool --emb-fusion "$2")";;
    --op-fusion) args="$args --op_fusion $(bool --op-fusion "$2")";;
    --inter-threads) args="$args --inter $2";;
    --intra-threads) args="$args --intra $2";;
    *) echo "deeprec-train.sh: unknown option $1" >&2; exit 2;;
  esac
  shift 2
done
export START_STATISTIC_STEP=$start
export STOP_STATISTIC_STEP=$((start + warm))
# The scorer's step counts (run_models.py), times --scale, at least 1.
case "$model" in
  DIEN) steps=2700;; DIN) steps=16000;; DLRM) steps=11600;; DeepFM) steps=700;; MMoE) steps=27700;; WDL) steps=8900;;
  *) echo "deeprec-train.sh: --model must be DIEN, DIN, DLRM, DeepFM, MMoE or WDL, got '$model'" >&2; exit 2;;
esac
steps=$(awk -v n="$steps" -v s="$scale" 'BEGIN { v = int(n * s + 0.5); print (v < 1 ? 1 : v) }')
cd "$models_dir/$model"
# shellcheck disable=SC2086
exec $python train.py --steps "$steps" $args
