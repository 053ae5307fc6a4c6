#!/usr/bin/env python3
"""TensorFlow 2 versions of rectune's three Criteo models (WDL, DLRM, DeepFM), trained end to end
from a Criteo-format TSV file, timed like `rectune train`, result written as rectune's result JSON.

Used by Experiments/tensorflow-vs-rectune-{wdl,dlrm,deepfm}.yaml (through
Experiments/external/tensorflow-vs-rectune.sh) to compare rectune with TensorFlow on the same file.
TensorFlow is NOT a dependency of rectune or its CI: install it in a virtual environment of your own
and point RECTUNE_TF_PYTHON at that interpreter, e.g.

    python3 -m venv ~/tfenv && ~/tfenv/bin/pip install tensorflow-cpu==2.21.0
    ~/tfenv/bin/python scripts/tf_compare.py --model wdl --data train.tsv --variant lazy_adam --json -

What is mirrored (Sources/RecEngine/Models/*, Data/CriteoRowParser.swift, Train/TrainConfig.swift):
- Data: label, I1..I13, C1..C26, TAB-separated. Dense = log(1 + max(x, 0)), empty = 0. Each of the 26
  categorical columns has its own table of --hash-buckets rows (10,000); an empty field is id 0, a
  present one 1 + hash % (buckets - 1), so "missing" has its own row as in rectune. The LAST
  --eval-rows lines (10,000) are held out for AUC/logloss; training batches are the lines before,
  in file order, wrapping into the next epoch (as CriteoDataset.fill).
- WDL: 26 embeddings dim 16 (uniform +-0.05) concat the 13 dense -> 429 -> 1024 -> 512 -> 256 (ReLU)
  -> 1; wide = 26 dim-1 tables (uniform +-0.01) summed + a 13 -> 1 linear layer; logit = deep + wide.
  Adam (lr 0.001, b1 0.9, b2 0.999, eps 1e-8, TF1's eps-hat form) on embeddings and DNN; Adagrad
  (lr 0.05, initial accumulator 0.1, eps 1e-7) on the wide tables and the wide linear layer.
- DLRM: bottom MLP 13 -> 512 -> 256 -> 64 -> 16, ReLU on every layer; 26 embeddings dim 16; dot
  interaction of the 27 vectors (strict upper triangle, 351 dots) concat the bottom output (367);
  top MLP 367 -> 512 -> 256 (ReLU) -> 1. Plain SGD lr 0.1 everywhere.
- DeepFM: first order = 26 dim-1 tables + 13 -> 1 linear; second order = FM over the 26 embeddings
  (0.5 * sum_d((sum_f v)^2 - sum_f v^2)); DNN 429 -> 400 -> 400 -> 400 (ReLU) -> 1; logit = sum of
  the four. Adam (lr 0.001, eps 1e-8) everywhere.
- --bf16 (any variant): the MLPs compute in bfloat16 as under Keras's mixed_bfloat16 policy (fp32
  variables and optimizer, a bfloat16 cast of each kernel and bias, bfloat16 activations between
  layers, fp32 output), as rectune's `bf16: on` runs its dense layers on fp32 master weights.
- Dense layers: He-uniform kernels for ReLU layers, Glorot-uniform for linear ones, zero bias.
  Loss: mean sigmoid cross-entropy over the batch. Seeds differ from rectune (different RNG).
- Timing: --warmup-steps, then --steps measured steps; each step's time runs from asking the
  tf.data iterator for the batch (reading + parsing from the file, prefetch allowed) to the step's
  loss being on the host, as rectune times `source.next()` + the step. samples_per_sec = measured
  samples / wall time of the measured steps. Threads: --threads N sets TensorFlow's inter- and
  intra-op pools and tf.data's private pool to N.

Variants (--variant), TensorFlow's best-known settings:
- adam: the models' optimizers as Keras 3 objects (keras.optimizers.Adam / Adagrad / SGD) on all
  variables, tf.function step. Embedding gradients are IndexedSlices; Keras 3 squares each
  duplicate id's slice separately (second moments of repeated ids come out wrong), so Adam/Adagrad
  table gradients are first deduplicated (tf.unique + unsorted_segment_sum, what TF1 and Keras 2
  optimizers did). Keras 3 Adam then densifies them: m and v of EVERY table row decay each step
  (non-lazy Adam, like tf.compat.v1.train.AdamOptimizer). SGD gets the raw slices (scatter-sub).
- lazy_adam: the TF1/TF-Addons-style hand-tuned path. Tables: gradients deduplicated once, then
  only the rows in the batch are touched: LazyAdam (gather m/v rows, update, scatter them back,
  scatter-sub the parameter rows, as tfa.optimizers.LazyAdam), ResourceSparseApplyAdagradV2 (fused
  sparse Adagrad kernel), scatter-sub for SGD. Dense weights: TensorFlow's fused C++ kernels
  ResourceApplyAdam / ResourceApplyAdagradV2 / ResourceApplyGradientDescent. This is rectune's own
  update rule (SparseRowOptimizer is "lazy", with a per-step dedupe).
- xla: the `adam` variant's Keras optimizers with the whole train step compiled by XLA
  (tf.function(jit_compile=True)); tf.data stays outside. XLA cannot compile tf.unique, so
  Adam/Adagrad table gradients are densified (unsorted_segment_sum, as Keras does for Adam anyway).

Unavoidable differences from rectune (none changes the work per step materially):
- Hash: tf.strings.to_hash_bucket_fast (FarmHash of the hex TEXT) instead of CriteoHash's
  SplitMix64 of the hex VALUE, so ids differ bit for bit (same bucket counts, same missing row);
  hex digits are hashed case-sensitively (gen-data and Kaggle files are lowercase).
- Malformed rows: tf.io.decode_csv fails the run (rectune skips and counts them).
- Keras 3 Adagrad (adam/xla variants) divides by sqrt(acc + eps), rectune by sqrt(acc) + eps.
- --tables fused (not the default) stacks the 26 tables of a group into one variable with per-column
  row offsets (one gather and one update per group instead of 26): the same math, fewer ops.

Output: one JSON object (rectune's result contract: model, config, steps, warmup_steps, batch,
samples_per_sec, step_ms {p50, p90, p99, mean}, auc, logloss, train_loss_first, train_loss_last,
eval_rows, skipped_rows, wall_s, engine), written to --json PATH ('-' = stdout) and always printed
as the last line of stdout. Exit status 2 for bad arguments or data.
"""
import argparse
import json
import math
import os
import re
import sys
import time

FIELDS = 40
DENSE = 13
CATS = 26
VARIANTS = ["adam", "lazy_adam", "xla"]
MODELS = ["wdl", "dlrm", "deepfm"]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=MODELS, required=True, help="model to train")
    p.add_argument("--data", required=True, help="Criteo-format TSV file (label, 13 integers, 26 hex ids)")
    p.add_argument("--variant", choices=VARIANTS, default="adam", help="TensorFlow setting (see the top of the file)")
    p.add_argument("--batch", type=int, default=512, help="samples per step (default 512)")
    p.add_argument("--steps", type=int, default=400, help="measured steps after warm-up (default 400)")
    p.add_argument("--warmup-steps", type=int, default=50, help="warm-up steps, not measured (default 50)")
    p.add_argument("--threads", type=int, default=2, help="inter-op, intra-op and tf.data threads (default 2)")
    p.add_argument("--eval-rows", type=int, default=10_000, help="rows held out from the end of the file for AUC (default 10000; 0 = no evaluation)")
    p.add_argument("--hash-buckets", type=int, default=10_000, help="rows per categorical table (default 10000)")
    p.add_argument("--embedding-dim", type=int, default=16, help="embedding dimension (default 16)")
    p.add_argument("--tables", choices=["split", "fused"], default="split",
                   help="split: one variable per column, as rectune (default); fused: one variable per table group")
    p.add_argument("--bf16", action="store_true",
                   help="dense layers in bfloat16: Keras's mixed_bfloat16 policy (fp32 weights and updates, bf16 compute)")
    p.add_argument("--seed", type=int, default=1, help="initialization seed (default 1)")
    p.add_argument("--json", default=None, help="also write the result here ('-' = stdout only)")
    a = p.parse_args(argv)
    for name in ["batch", "steps", "threads", "embedding_dim"]:
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(a, name)}")
    if a.warmup_steps < 0 or a.eval_rows < 0:
        p.error("--warmup-steps and --eval-rows must be >= 0")
    if a.hash_buckets < 2:
        p.error(f"--hash-buckets must be >= 2, got {a.hash_buckets}")
    return a


def fail(message):
    """Exit 2 with `message` on stderr (bad arguments or data)."""
    print(f"tf_compare.py: {message}", file=sys.stderr)
    sys.exit(2)


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 22)
            if not chunk:
                break
            n += chunk.count(b"\n")
    return n


def main(argv):
    a = parse_args(argv)
    wall0 = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not os.path.isfile(a.data):
        fail(f"--data {a.data}: no such file")
    total = count_lines(a.data)
    train_rows = total - a.eval_rows
    if train_rows < a.batch:
        fail(f"{a.data}: {total} lines, need at least --batch {a.batch} training lines "
                 f"besides the {a.eval_rows} held out (--eval-rows)")

    import numpy as np
    import tensorflow as tf
    import keras

    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    keras.utils.set_random_seed(a.seed)   # Python, NumPy, TensorFlow and Keras initializers

    B, D, H = a.batch, a.embedding_dim, a.hash_buckets
    tf_dtype = tf.float32

    # ---- data: TextLineDataset -> batch of lines -> one vectorised decode_csv per batch ----
    defaults = [tf.constant([0.0], tf.float32)] + [tf.constant([0], tf.int64)] * DENSE + [tf.constant([""], tf.string)] * CATS

    def parse(lines):
        cols = tf.io.decode_csv(lines, record_defaults=defaults, field_delim="\t", use_quote_delim=False)
        label = cols[0]
        dense = tf.math.log1p(tf.maximum(tf.cast(tf.stack(cols[1:1 + DENSE], axis=1), tf.float32), 0.0))
        hexes = tf.stack(cols[1 + DENSE:], axis=1)                     # [B, 26] strings
        ids = tf.strings.to_hash_bucket_fast(hexes, H - 1) + 1         # 1 … H-1
        ids = tf.where(tf.equal(hexes, ""), tf.zeros_like(ids), ids)    # missing -> row 0
        return label, dense, tf.cast(ids, tf.int32)

    options = tf.data.Options()
    options.threading.private_threadpool_size = a.threads
    options.deterministic = True
    train_ds = (tf.data.TextLineDataset(a.data).take(train_rows).repeat().batch(B, drop_remainder=True)
                .map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE).with_options(options))

    # ---- parameters ----
    def uniform(shape, scale):
        return tf.Variable(tf.random.uniform(shape, -scale, scale, dtype=tf_dtype))

    class Tables:
        """26 tables of H x dim, one variable each (split) or one stacked variable (fused)."""
        def __init__(self, name, dim, scale, optimizer):
            self.name, self.dim, self.optimizer = name, dim, optimizer
            if a.tables == "split":
                self.vars = [uniform([H, dim], scale) for _ in range(CATS)]
            else:
                self.vars = [uniform([CATS * H, dim], scale)]
                self.offsets = tf.constant(np.arange(CATS, dtype=np.int32) * H)

        def lookup(self, ids):
            """[B, 26, dim]."""
            if a.tables == "split":
                return tf.stack([tf.gather(v, ids[:, c]) for c, v in enumerate(self.vars)], axis=1)
            return tf.gather(self.vars[0], ids + self.offsets)

    class MLP:
        def __init__(self, inputs, widths, relu_on_last, optimizer):
            self.optimizer, self.layers = optimizer, []
            for i, w in enumerate(widths):
                relu = i < len(widths) - 1 or relu_on_last
                init = keras.initializers.HeUniform() if relu else keras.initializers.GlorotUniform()
                kernel = tf.Variable(init([inputs, w], dtype=tf_dtype))
                self.layers.append((kernel, tf.Variable(tf.zeros([w], tf_dtype)), relu))
                inputs = w

        @property
        def vars(self):
            return [v for k, b, _ in self.layers for v in (k, b)]

        def __call__(self, x):
            # --bf16: Keras's mixed_bfloat16 policy by hand: each layer computes in bfloat16 on a
            # bfloat16 copy of its fp32 weights, activations stay bfloat16 between layers, and the
            # stack's output is cast back to fp32 (the casts carry the gradients back to fp32).
            compute = tf.bfloat16 if a.bf16 else tf_dtype
            x = tf.cast(x, compute)
            for k, b, relu in self.layers:
                x = tf.nn.bias_add(tf.matmul(x, tf.cast(k, compute)), tf.cast(b, compute))
                if relu:
                    x = tf.nn.relu(x)
            return tf.cast(x, tf_dtype)

    # Optimizer settings per parameter group: (rule, learning rate).
    ADAM, ADAGRAD, SGD = "adam", "adagrad", "sgd"
    deep_in = CATS * D + DENSE
    if a.model == "wdl":
        emb = Tables("emb", D, 0.05, (ADAM, 0.001))
        wide = Tables("wide", 1, 0.01, (ADAGRAD, 0.05))
        wide_lin = MLP(DENSE, [1], False, (ADAGRAD, 0.05))
        dnn = MLP(deep_in, [1024, 512, 256, 1], False, (ADAM, 0.001))
        tables, mlps = [emb, wide], [wide_lin, dnn]

        def forward(dense, ids):
            e = tf.reshape(emb.lookup(ids), [-1, CATS * D])
            deep = dnn(tf.concat([e, dense], axis=1))
            w = tf.reduce_sum(tf.reshape(wide.lookup(ids), [-1, CATS]), axis=1, keepdims=True)
            return tf.squeeze(deep + wide_lin(dense) + w, axis=1)
    elif a.model == "dlrm":
        emb = Tables("emb", D, 0.05, (SGD, 0.1))
        bottom = MLP(DENSE, [512, 256, 64, D], True, (SGD, 0.1))
        pairs = [(i, j) for i in range(CATS + 1) for j in range(i + 1, CATS + 1)]
        tri = tf.constant([i * (CATS + 1) + j for i, j in pairs], tf.int32)
        top = MLP(D + len(pairs), [512, 256, 1], False, (SGD, 0.1))
        tables, mlps = [emb], [bottom, top]

        def forward(dense, ids):
            z = bottom(dense)                                             # [B, D]
            t = tf.concat([z[:, None, :], emb.lookup(ids)], axis=1)       # [B, 27, D]
            dots = tf.reshape(tf.matmul(t, t, transpose_b=True), [-1, (CATS + 1) ** 2])
            return tf.squeeze(top(tf.concat([z, tf.gather(dots, tri, axis=1)], axis=1)), axis=1)
    else:
        emb = Tables("emb", D, 0.05, (ADAM, 0.001))
        first = Tables("first", 1, 0.01, (ADAM, 0.001))
        first_lin = MLP(DENSE, [1], False, (ADAM, 0.001))
        dnn = MLP(deep_in, [400, 400, 400, 1], False, (ADAM, 0.001))
        tables, mlps = [emb, first], [first_lin, dnn]

        def forward(dense, ids):
            v = emb.lookup(ids)                                           # [B, 26, D]
            s = tf.reduce_sum(v, axis=1)
            fm = 0.5 * tf.reduce_sum(s * s - tf.reduce_sum(v * v, axis=1), axis=1)
            deep = tf.squeeze(dnn(tf.concat([tf.reshape(v, [-1, CATS * D]), dense], axis=1)), axis=1)
            f1 = tf.reduce_sum(tf.reshape(first.lookup(ids), [-1, CATS]), axis=1)
            return deep + tf.squeeze(first_lin(dense), axis=1) + f1 + fm

    groups = [(t.vars, t.optimizer, True) for t in tables] + [(m.vars, m.optimizer, False) for m in mlps]
    all_vars = [v for vs, _, _ in groups for v in vs]

    def loss_fn(label, dense, ids):
        logits = forward(dense, ids)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=label, logits=logits))

    def dedupe(g):
        unique, where = tf.unique(g.indices)
        return unique, tf.math.unsorted_segment_sum(g.values, where, tf.shape(unique)[0])

    # ---- optimizers ----
    if a.variant in ("adam", "xla"):
        def keras_opt(rule, lr):
            if rule == ADAM:
                return keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
            if rule == ADAGRAD:
                return keras.optimizers.Adagrad(learning_rate=lr, initial_accumulator_value=0.1, epsilon=1e-7)
            return keras.optimizers.SGD(learning_rate=lr)
        # One Keras optimizer per rule (its slots are per variable), as a user would write it.
        rules = sorted({opt for _, opt, _ in groups})
        kopts = {r: keras_opt(*r) for r in rules}
        for r, o in kopts.items():
            o.build([v for vs, opt, _ in groups if opt == r for v in vs])

        def apply(grads):
            per_rule = {r: [] for r in rules}
            k = 0
            for vs, opt, sparse in groups:
                for v in vs:
                    g = grads[k]; k += 1
                    if sparse and opt[0] != SGD:
                        if a.variant == "xla":
                            g = tf.convert_to_tensor(g)
                        else:
                            u, s = dedupe(g)
                            g = tf.IndexedSlices(s, u, g.dense_shape)
                    per_rule[opt].append((g, v))
            for r in rules:
                kopts[r].apply_gradients(per_rule[r])
    else:
        step_var = tf.Variable(0, dtype=tf.int64)
        slots = {}
        for vs, (rule, lr), _ in groups:
            for v in vs:
                if rule == ADAM:
                    slots[v.ref()] = (tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v)))
                elif rule == ADAGRAD:
                    slots[v.ref()] = (tf.Variable(tf.fill(tf.shape(v), 0.1)),)

        def apply(grads):
            t = tf.cast(step_var.assign_add(1), tf.float32)
            b1p, b2p = tf.pow(0.9, t), tf.pow(0.999, t)
            k = 0
            for vs, (rule, lr), sparse in groups:
                for v in vs:
                    g = grads[k]; k += 1
                    s = slots.get(v.ref())
                    if sparse and rule == SGD:
                        v.scatter_sub(tf.IndexedSlices(lr * g.values, g.indices))
                    elif sparse and rule == ADAGRAD:
                        u, gs = dedupe(g)
                        tf.raw_ops.ResourceSparseApplyAdagradV2(var=v.handle, accum=s[0].handle, lr=lr, epsilon=1e-7,
                                                                grad=gs, indices=u, use_locking=False, update_slots=True)
                    elif sparse:  # lazy Adam
                        u, gs = dedupe(g)
                        m, vv = s
                        m_rows = 0.9 * tf.gather(m, u) + 0.1 * gs
                        v_rows = 0.999 * tf.gather(vv, u) + 0.001 * gs * gs
                        m.scatter_update(tf.IndexedSlices(m_rows, u))
                        vv.scatter_update(tf.IndexedSlices(v_rows, u))
                        step = lr * tf.sqrt(1.0 - b2p) / (1.0 - b1p)
                        v.scatter_sub(tf.IndexedSlices(step * m_rows / (tf.sqrt(v_rows) + 1e-8), u))
                    elif rule == SGD:
                        tf.raw_ops.ResourceApplyGradientDescent(var=v.handle, alpha=tf.constant(lr), delta=g)
                    elif rule == ADAGRAD:
                        tf.raw_ops.ResourceApplyAdagradV2(var=v.handle, accum=s[0].handle, lr=tf.constant(lr),
                                                          epsilon=tf.constant(1e-7), grad=g, update_slots=True)
                    else:
                        tf.raw_ops.ResourceApplyAdam(var=v.handle, m=s[0].handle, v=s[1].handle, beta1_power=b1p,
                                                     beta2_power=b2p, lr=tf.constant(lr), beta1=tf.constant(0.9),
                                                     beta2=tf.constant(0.999), epsilon=tf.constant(1e-8), grad=g)

    def train_step(label, dense, ids):
        with tf.GradientTape() as tape:
            loss = loss_fn(label, dense, ids)
        apply(tape.gradient(loss, all_vars))
        return loss

    step_fn = tf.function(train_step, jit_compile=(a.variant == "xla"), reduce_retracing=True)

    def bad_row(error, first_line):
        """Exit 2 naming the file and line of a row tf.io.decode_csv rejected (lines are 1-based)."""
        m = re.search(r"record (\d+)", error.message)
        where = f"line {(first_line + int(m.group(1))) % total + 1}" if m else f"the batch starting at line {first_line + 1}"
        first = error.message.splitlines()[0]
        reason = re.search(r"Iterator::[\w:]+: (.*)$", first)
        fail(f"{a.data}: {where}: {reason.group(1) if reason else first} "
             "(TensorFlow's reader cannot skip malformed rows; rectune's --bad-rows skip can)")

    # ---- training loop, timed like rectune's Trainer ----
    it = iter(train_ds)
    step_ns, steady_samples = [], 0
    first_loss = last_loss = float("nan")
    steady_start = time.perf_counter_ns()
    for step in range(a.warmup_steps + a.steps):
        if step == a.warmup_steps:
            steady_start = time.perf_counter_ns()
        t0 = time.perf_counter_ns()
        try:
            label, dense, ids = next(it)
        except tf.errors.InvalidArgumentError as e:
            bad_row(e, (step * B) % train_rows)
        loss = float(step_fn(label, dense, ids).numpy())
        t1 = time.perf_counter_ns()
        if not math.isfinite(loss):
            print(f"tf_compare.py: loss is {loss} at step {step}", file=sys.stderr)
            sys.exit(1)
        if step >= a.warmup_steps:
            step_ns.append(t1 - t0)
            steady_samples += B
            if math.isnan(first_loss):
                first_loss = loss
            last_loss = loss
    steady_s = (time.perf_counter_ns() - steady_start) / 1e9

    # ---- evaluation on the held-out tail (not timed) ----
    auc = logloss = None
    reason = None
    if a.eval_rows > 0:
        predict = tf.function(lambda d, i: tf.sigmoid(forward(d, i)))
        eval_ds = tf.data.TextLineDataset(a.data).skip(train_rows).batch(4096).map(parse).with_options(options)
        ys, ps = [], []
        try:
            for label, dense, ids in eval_ds:
                ys.append(label.numpy()); ps.append(predict(dense, ids).numpy())
        except tf.errors.InvalidArgumentError as e:
            bad_row(e, train_rows + 4096 * len(ys))
        y = np.concatenate(ys).astype(np.float64); p = np.concatenate(ps).astype(np.float64)
        pc = np.clip(p, 1e-7, 1 - 1e-7)
        logloss = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
        pos = float(y.sum()); neg = len(y) - pos
        if pos == 0 or neg == 0:
            reason = "the evaluation slice has one class only"
        else:
            # Exact rank-based AUC with average ranks for ties (as rectune's Metrics).
            _, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
            starts = np.cumsum(counts) - counts
            ranks = (starts + (counts + 1) / 2.0)[inverse]
            auc = float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))
    else:
        reason = "--eval-rows 0"

    ms = np.sort(np.array(step_ns, dtype=np.float64) / 1e6)

    def pct(q):
        return float(ms[min(len(ms) - 1, int(math.ceil(q * len(ms))) - 1)])

    result = {
        "model": a.model,
        "config": {"system": "tensorflow", "variant": a.variant, "tables": a.tables, "bf16": "on" if a.bf16 else "off", "threads": a.threads,
                   "inter_threads": a.threads, "intra_threads": a.threads, "hash_buckets": H, "embedding_dim": D,
                   "eval_rows": a.eval_rows, "data": a.data, "seed": a.seed,
                   "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")},
        "steps": a.steps, "warmup_steps": a.warmup_steps, "batch": B,
        "samples_per_sec": steady_samples / max(steady_s, 1e-9),
        "step_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "mean": float(ms.mean())},
        "auc": auc, "logloss": logloss,
        "train_loss_first": first_loss, "train_loss_last": last_loss,
        "eval_rows": a.eval_rows, "skipped_rows": 0,
        "wall_s": time.perf_counter() - wall0,
        "engine": {"version": f"tensorflow {tf.__version__} (keras {keras.__version__})", "onednn_version": "bundled",
                   "onednn_isa": "n/a", "inter_threads": a.threads, "intra_threads": a.threads},
    }
    if reason is not None:
        result["auc_unavailable"] = reason
        if logloss is None:
            result["logloss_unavailable"] = reason
    text = json.dumps(result)
    if a.json and a.json != "-":
        with open(a.json, "w") as f:
            f.write(text + "\n")
    print(f"{a.model} {a.variant}: {result['samples_per_sec']:.0f} samples/s, p50 {pct(0.5):.2f} ms, "
          f"loss {first_loss:.4f} -> {last_loss:.4f}, AUC {auc if auc is None else round(auc, 4)}", file=sys.stderr)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
