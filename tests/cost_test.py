import keras
import numpy as np
import tensorflow as tf

from kdkeras import cost
from kdkeras.models import build_student


def test_dense_flops_are_counted_from_the_graph():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    assert cost.flops_per_example(model, tf.TensorSpec([1, 8], tf.float32)) == 2 * 8 * 4 + 4


def test_recurrent_layers_are_counted_per_time_step():
    student = build_student("lstm", 1000, 5, embedding_dim=16, hidden_dim=8)
    steps, flops = 50, []
    for length in (steps, 2 * steps):
        flops.append(cost.flops_per_example(student, tf.TensorSpec([1, length], tf.int32)))
    gates = 2 * 2 * 4 * 8 * (16 + 8)  # 2 directions × multiply-add × 4 gates × units × (input + recurrent)
    assert gates * steps <= flops[0] <= 1.2 * gates * steps
    assert 1.9 < flops[1] / flops[0] < 2.1  # linear in the document length
    # The unrolled copy used for counting computes the same function.
    x = np.random.default_rng(0).integers(2, 1000, size=(2, 30)).astype("int32")
    np.testing.assert_allclose(cost.unrolled(student)(x), student(x), atol=1e-5)


def test_matmul_speed_is_positive():
    assert cost.matmul_gflops(128, 0.2) > 0
