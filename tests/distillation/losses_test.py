import numpy as np
import pytest

from kdkeras.distillation import DistillationKL


def np_bernoulli_kl(p_logits, q_logits):
    p, q = 1 / (1 + np.exp(-p_logits)), 1 / (1 + np.exp(-q_logits))
    return (p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))).sum(-1)


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_categorical_kl(p_logits, q_logits):
    p, q = np_softmax(p_logits), np_softmax(q_logits)
    return (p * np.log(p / q)).sum(-1)


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 5)) * 3, rng.normal(size=(6, 5)) * 3


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_multi_label_is_per_label_bernoulli_kl_averaged(logits, temperature):
    t, s = logits
    got = float(DistillationKL(True, temperature)(t, s))
    expected = np_bernoulli_kl(t / temperature, s / temperature).mean() / t.shape[1] * temperature**2
    assert got == pytest.approx(expected, rel=1e-5)


def test_multi_label_sum_over_labels_option(logits):
    t, s = logits
    got = float(DistillationKL(True, label_reduction="sum")(t, s))
    assert got == pytest.approx(np_bernoulli_kl(t, s).mean(), rel=1e-5)
    assert got == pytest.approx(t.shape[1] * float(DistillationKL(True)(t, s)), rel=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_single_label_is_categorical_kl(logits, temperature):
    t, s = logits
    got = float(DistillationKL(False, temperature)(t, s))
    expected = np_categorical_kl(t / temperature, s / temperature).mean() * temperature**2
    assert got == pytest.approx(expected, rel=1e-5)


def test_direction_option_swaps_arguments(logits):
    t, s = logits
    forward = float(DistillationKL(False)(t, s))
    backward = float(DistillationKL(False, direction="student_teacher")(t, s))
    assert backward == pytest.approx(np_categorical_kl(s, t).mean(), rel=1e-5)
    assert forward != pytest.approx(backward)


def test_zero_when_student_equals_teacher(logits):
    t, _ = logits
    assert float(DistillationKL(True)(t, t)) == pytest.approx(0, abs=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError):
        DistillationKL(True, direction="sideways")
    with pytest.raises(ValueError):
        DistillationKL(True, temperature=0)
    with pytest.raises(ValueError):
        DistillationKL(True, label_reduction="max")
