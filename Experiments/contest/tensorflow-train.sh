#!/bin/sh
# One contest model under stock TensorFlow 2.x: the contest's own script (`train.py --tf`, the
# scripts' stock-TensorFlow path) run through Experiments/external/tianchi_on_tf2.py, which maps the
# TF1 API the scripts use onto TensorFlow 2's tf.compat.v1. Used by the submission
# Experiments/contest/tensorflow.yaml (`rectune contest run --submission …`); run from the
# repository root.
#
#   tensorflow-train.sh --model wdl|deepfm|dlrm|din|dien|mmoe --steps N --data DIR --run-dir DIR
#
# The script trains N steps at batch 512 on DIR (the data set's directory in the contest's layout,
# as `rectune contest run` passes it), evaluates on the whole eval file, and writes its result
# file (line 1 the training seconds, line 2 the AUC), which is copied to RUN_DIR/tianchi-result.
# Checkpoints go to RUN_DIR/tf-checkpoint (removed afterwards).
# Environment: RECTUNE_TF_PYTHON, the Python that has TensorFlow and tf_keras (default python3);
# TIANCHI_MODELS_DIR, the directory of the contest's scripts, one folder per model (default
# ../shared/reference/tianchi); TIANCHI_RESULT_DIR, where the scripts write result/<MODEL>/result
# (theirs is hard-coded to /tmp/tianchi/result, the default; tests point it elsewhere).
set -eu
model=""; steps=""; data=""; run_dir=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "tensorflow-train.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --model) model=$2;; --steps) steps=$2;; --data) data=$2;; --run-dir) run_dir=$2;;
    *) echo "tensorflow-train.sh: unknown option $1" >&2; exit 2;;
  esac
  shift 2
done
case "$model" in
  dien) label=DIEN;; din) label=DIN;; dlrm) label=DLRM;; deepfm) label=DeepFM;; mmoe) label=MMoE;; wdl) label=WDL;;
  *) echo "tensorflow-train.sh: --model must be dien, din, dlrm, deepfm, mmoe or wdl, got '$model'" >&2; exit 2;;
esac
[ -n "$steps" ] && [ -n "$data" ] && [ -n "$run_dir" ] || { echo "tensorflow-train.sh: --steps, --data and --run-dir are required" >&2; exit 2; }
models_dir=${TIANCHI_MODELS_DIR:-../shared/reference/tianchi}
script="$models_dir/$label/train.py"
[ -f "$script" ] || { echo "tensorflow-train.sh: no contest script at $script (set TIANCHI_MODELS_DIR)" >&2; exit 2; }
[ -d "$data" ] || { echo "tensorflow-train.sh: --data $data is not a directory" >&2; exit 2; }
# Absolute paths: the script runs in the run directory (its checkpoints and summaries land there).
shim="$(cd "$(dirname "$0")/../external" && pwd)/tianchi_on_tf2.py"
script="$(cd "$(dirname "$script")" && pwd)/train.py"
data="$(cd "$data" && pwd)"
mkdir -p "$run_dir" && run_dir="$(cd "$run_dir" && pwd)"
# The script writes its result to this fixed path; remove a stale one so a failed run reads nothing.
result="${TIANCHI_RESULT_DIR:-/tmp/tianchi/result}/$label/result"
rm -f "$result"
cd "$run_dir"
"${RECTUNE_TF_PYTHON:-python3}" "$shim" "$script" --tf --steps "$steps" --data_location "$data" --checkpoint "$run_dir/tf-checkpoint"
rm -rf "$run_dir/tf-checkpoint"
cp "$result" "$run_dir/tianchi-result"
