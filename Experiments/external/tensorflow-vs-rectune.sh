#!/bin/sh
# One run of the rectune-vs-TensorFlow comparison (Experiments/tensorflow-vs-rectune-*.yaml): rectune's
# own `train`, or scripts/tf_compare.py under one TensorFlow variant, on the same Criteo-format file,
# both writing rectune's result JSON to --json. Run from the repository root.
#
#   tensorflow-vs-rectune.sh --system rectune|rectune_boost|rectune_tuned|tf_adam|tf_lazy_adam|tf_xla[_bf16] --model wdl|dlrm|deepfm
#       --data PATH --batch N --steps N --warmup-steps N --threads N --eval-rows N --json PATH
#
# A system name ending in _bf16 runs that system with bfloat16 dense layers: rectune's `--bf16 on`,
# scripts/tf_compare.py's --bf16 (Keras's mixed_bfloat16 policy).
# Threads: rectune gets --inter-threads N --intra-threads 1 (its default and best setting on 2
# cores: N inter-op workers with a 1-thread oneDNN team each, N threads in all); TensorFlow gets N
# inter-op, N intra-op and N tf.data threads (scripts/tf_compare.py --threads N).
# Environment: RECTUNE_TF_PYTHON, the Python that has TensorFlow (default python3);
# RECTUNE, the rectune binary (default .build/release/rectune); RECTUNE_TRAIN_ARGS, extra
# `rectune train` flags for the rectune runs (word-split, e.g. "--executor costmodel"); TF_COMPARE_ARGS,
# extra scripts/tf_compare.py flags for the TensorFlow runs (e.g. "--tables fused").
set -eu
system=""; model=""; data=""; batch=512; steps=400; warmup=50; threads=2; eval_rows=10000; json=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "tensorflow-vs-rectune.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --system) system=$2;;
    --model) model=$2;;
    --data) data=$2;;
    --batch) batch=$2;;
    --steps) steps=$2;;
    --warmup-steps) warmup=$2;;
    --threads) threads=$2;;
    --eval-rows) eval_rows=$2;;
    --json) json=$2;;
    *) echo "tensorflow-vs-rectune.sh: unknown option $1" >&2; exit 2;;
  esac
  shift 2
done
[ -n "$model" ] && [ -n "$data" ] && [ -n "$json" ] || { echo "tensorflow-vs-rectune.sh: --model, --data and --json are required" >&2; exit 2; }
bf16=off
case "$system" in *_bf16) bf16=on; system=${system%_bf16};; esac
case "$system" in
  rectune|rectune_boost|rectune_tuned)
    # rectune_boost: the intra_boost knob on (a dense node running alone gets both cores).
    # rectune_tuned: rectune's settings for a few cores: micro_batch at one micro-batch per thread
    # (each worker runs its own part of the batch's forward and backward; still one update per
    # step) and the adaptive allocator (no page faults for step tensors in a fresh process).
    boost=off; [ "$system" = rectune_boost ] && boost=on
    micro=1; allocator=system
    [ "$system" = rectune_tuned ] && { micro=$threads; allocator=adaptive; }
    # shellcheck disable=SC2086
    exec "${RECTUNE:-.build/release/rectune}" train --quiet --model "$model" --data "$data" --batch "$batch" \
      --steps "$steps" --warmup-steps "$warmup" --inter-threads "$threads" --intra-threads 1 --intra-boost "$boost" \
      --micro-batch "$micro" --allocator "$allocator" --bf16 "$bf16" --eval-rows "$eval_rows" --json "$json" ${RECTUNE_TRAIN_ARGS:-};;
  tf_adam|tf_lazy_adam|tf_xla)
    tf_bf16=""; [ "$bf16" = on ] && tf_bf16=--bf16
    # shellcheck disable=SC2086
    exec "${RECTUNE_TF_PYTHON:-python3}" scripts/tf_compare.py --variant "${system#tf_}" --model "$model" --data "$data" \
      --batch "$batch" --steps "$steps" --warmup-steps "$warmup" --threads "$threads" --eval-rows "$eval_rows" \
      --json "$json" $tf_bf16 ${TF_COMPARE_ARGS:-};;
  *) echo "tensorflow-vs-rectune.sh: --system must be rectune, rectune_boost, rectune_tuned, tf_adam, tf_lazy_adam or tf_xla, optionally with _bf16, got '$system'" >&2; exit 2;;
esac
