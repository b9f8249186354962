"""Inference cost: FLOPs counted from a model's graph, and the machine's matmul speed.

`flops_per_example` traces the model for one example of a fixed shape,
freezes the graph and sums TensorFlow's registered per-op float-operation
statistics (the `tf.compat.v1.profiler` count: a multiply-add is 2 FLOPs).
Recurrent layers run in a `while` loop whose body the profiler counts once,
so the model is first rebuilt with `unroll=True` on every recurrent layer
(same weights), which puts one cell per time step in the graph.

Example:
>>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
>>> flops_per_example(model, tf.TensorSpec([1, 8], tf.float32))
68  # 2 × 8 × 4 for the matmul + 4 bias additions
"""

import time

import numpy as np
import tensorflow as tf


def _set_unroll(config):
    found = False
    if isinstance(config, dict):
        if "unroll" in config:
            config["unroll"] = True
            found = True
        for value in config.values():
            found |= _set_unroll(value)
    elif isinstance(config, list):
        for value in config:
            found |= _set_unroll(value)
    return found


def unrolled(model):
    """A copy of `model` with every recurrent layer unrolled (or `model` itself if it has none)."""
    config = model.get_config()
    if not _set_unroll(config):
        return model
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def flops_per_example(model, input_spec):
    """FLOPs of one forward pass (inference mode) for inputs of `input_spec`.

    Args:
        model: a Keras model.
        input_spec: a `tf.TensorSpec` (or dict of them) with batch size 1.

    Returns:
        The float-operation count from the frozen graph.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    counted = unrolled(model)

    @tf.autograph.experimental.do_not_convert
    def forward(x):
        return counted(x, training=False)

    concrete = tf.function(forward, autograph=False).get_concrete_function(input_spec)
    frozen = convert_variables_to_constants_v2(concrete)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=frozen.graph, options=options).total_float_ops)


def matmul_gflops(n=1024, seconds=2.0):
    """Measured float32 matmul speed of this machine (GFLOP/s) with TensorFlow's current threads.

    Args:
        n: matrix size (n × n times n × n, 2n³ FLOPs).
        seconds: how long to measure after a warm-up.
    """
    a = tf.constant(np.random.default_rng(0).standard_normal((n, n), dtype=np.float32))
    b = tf.constant(np.random.default_rng(1).standard_normal((n, n), dtype=np.float32))
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        matmul(a, b).numpy()
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - started) / 1e9

