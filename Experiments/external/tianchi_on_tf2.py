"""Runs one of the DeepRec contest's training scripts (TensorFlow 1 graph code) on stock TensorFlow 2.x.

    python tianchi_on_tf2.py path/to/<MODEL>/train.py --tf --steps N --data_location DIR [...]

The contest's scripts (../shared/reference/tianchi/<MODEL>/train.py) carry their own stock-TensorFlow
path (`--tf`: no embedding variables, SmartStage, op fusion, work queue or DeepRec environment). What
still stops them on TensorFlow 2.x is API that moved or went away; this file puts it back and then runs
the script unchanged as __main__:

- `import tensorflow as tf` gets `tensorflow.compat.v1` with v2 behaviour off (graph mode, sessions,
  feature columns, tf.layers);
- tf.layers and the RNN cells need Keras 2, so TF_USE_LEGACY_KERAS=1 (the tf_keras package);
- `embedding_column(..., do_fusion=...)` and `shared_embedding_columns(..., do_fusion=...)`: DeepRec's
  embedding-fusion argument, which WDL passes even with --tf, is dropped (stock TF has no fusion);
- `tensorflow.contrib.rnn.python.ops.core_rnn_cell._Linear` (DIN imports it, DIEN's attention GRU
  uses it) is TF 1's class: one `kernel` over the concatenated inputs and an optional `bias`, with the
  same variable names and initialisers.

Nothing else is changed: model, features, optimizer, data pipeline, timer and result file are the
script's. Used by Experiments/contest/tensorflow-train.sh.
"""
import os
import runpy
import sys
import types

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

_embedding_column = tf.feature_column.embedding_column
_shared_embedding_columns = tf.feature_column.shared_embedding_columns


def embedding_column(*args, do_fusion=None, **kwargs):
    return _embedding_column(*args, **kwargs)


def shared_embedding_columns(*args, do_fusion=None, **kwargs):
    return _shared_embedding_columns(*args, **kwargs)


tf.feature_column.embedding_column = embedding_column
tf.feature_column.shared_embedding_columns = shared_embedding_columns


class _Linear(object):
    """TF 1's core_rnn_cell._Linear: args (a tensor or a list of 2-D tensors) @ kernel + bias."""

    def __init__(self, args, output_size, build_bias, bias_initializer=None, kernel_initializer=None):
        self._is_sequence = isinstance(args, (list, tuple))
        if not self._is_sequence:
            args = [args]
        total = sum(int(a.shape[1]) for a in args)
        dtype = args[0].dtype
        self._build_bias = build_bias
        with tf.variable_scope(tf.get_variable_scope()) as outer_scope:
            self._weights = tf.get_variable("kernel", [total, output_size], dtype=dtype,
                                            initializer=kernel_initializer)
            if build_bias:
                with tf.variable_scope(outer_scope) as inner_scope:
                    inner_scope.set_partitioner(None)
                    if bias_initializer is None:
                        bias_initializer = tf.constant_initializer(0.0, dtype=dtype)
                    self._biases = tf.get_variable("bias", [output_size], dtype=dtype, initializer=bias_initializer)

    def __call__(self, args):
        if not self._is_sequence:
            args = [args]
        res = tf.matmul(args[0] if len(args) == 1 else tf.concat(args, 1), self._weights)
        return tf.nn.bias_add(res, self._biases) if self._build_bias else res


for _name in ["tensorflow.contrib", "tensorflow.contrib.rnn", "tensorflow.contrib.rnn.python",
              "tensorflow.contrib.rnn.python.ops", "tensorflow.contrib.rnn.python.ops.core_rnn_cell"]:
    sys.modules[_name] = types.ModuleType(_name)
sys.modules["tensorflow.contrib.rnn.python.ops.core_rnn_cell"]._Linear = _Linear
# `from tensorflow.python... import ...` still finds the real package's submodules: they are already
# in sys.modules under their full names.
sys.modules["tensorflow"] = tf


def main():
    if len(sys.argv) < 2 or not os.path.isfile(sys.argv[1]):
        sys.exit("usage: tianchi_on_tf2.py path/to/train.py [script arguments]")
    script = os.path.abspath(sys.argv[1])
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
