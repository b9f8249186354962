"""The Distiller under MirroredStrategy on 2 logical CPU devices matches one device."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from kdkeras.distillation import Distiller
    from kdkeras.training import distribution_strategy

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    teacher = (x @ rng.normal(size=(8, 4))).astype("float32")
    multi_label = sys.argv[1] == "multi"
    y = (rng.random((64, 4)) < 0.3).astype("float32") if multi_label else rng.integers(0, 4, 64).astype("int32")

    def train(strategy_name):
        strategy = distribution_strategy(strategy_name)
        with strategy.scope():
            keras.utils.set_random_seed(0)
            inputs = keras.Input((8,))
            student = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Dense(16, activation="tanh")(inputs)))
            distiller = Distiller(student, multi_label=multi_label, alpha=2.0, temperature=2.0)
            distiller.compile(optimizer=keras.optimizers.SGD(0.1))
        ds = tf.data.Dataset.from_tensor_slices((x, {"labels": y, "teacher_logits": teacher})).batch(16)
        history = distiller.fit(ds, epochs=3, verbose=0).history
        return strategy.num_replicas_in_sync, history["loss"], [w.tolist() for w in student.get_weights()]

    single = train(None)
    mirrored = train("mirrored")
    print(json.dumps({"single": single, "mirrored": mirrored}))
    """
)


def run(mode):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, cwd=root,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # two trainings in child processes (about 40 s on a busy machine)
def test_mirrored_matches_single_device():
    import numpy as np

    for mode in ("multi", "single"):
        result = run(mode)
        (n1, loss1, w1), (n2, loss2, w2) = result["single"], result["mirrored"]
        assert n1 == 1 and n2 == 2
        np.testing.assert_allclose(loss2, loss1, rtol=1e-5)
        for a, b in zip(w1, w2):
            np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-5, atol=1e-6)
