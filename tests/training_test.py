import keras
import numpy as np
import pytest

from kdkeras import training


def test_prior_logits_match_label_frequencies():
    labels = np.zeros((100, 3), np.int8)
    labels[:20, 0] = 1
    labels[:50, 1] = 1
    p = 1 / (1 + np.exp(-training.prior_logits(labels, True)))
    assert p[0] == pytest.approx(20.5 / 101) and p[1] == pytest.approx(50.5 / 101)
    assert np.isfinite(p[2]) and p[2] < 0.01
    single = np.eye(3, dtype=np.int8)[[0] * 70 + [1] * 30]
    q = np.exp(training.prior_logits(single, False))
    assert q[0] / q[1] == pytest.approx(70.5 / 30.5)


def test_init_output_bias_sets_the_logits_layer():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(inputs))
    labels = np.eye(3, dtype=np.int8)[[0, 0, 1, 2]]
    assert training.init_output_bias(model, labels, True)
    np.testing.assert_allclose(model.get_layer("logits").bias.numpy(), training.prior_logits(labels, True))
    other = keras.Model(inputs, keras.layers.Dense(3, name="head")(inputs))
    assert not training.init_output_bias(other, labels, True)


def test_warmup_linear_decay():
    schedule = training.WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    values = [float(schedule(s)) for s in (0, 5, 10, 55, 100, 150)]
    assert values == pytest.approx([0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], abs=1e-9)


def test_distribution_strategy_names():
    assert training.distribution_strategy(None).num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="unknown distribution strategy"):
        training.distribution_strategy("ring")
