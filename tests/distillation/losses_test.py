import numpy as np
import pytest

from kdkeras.distillation import DistillationKL, LogitMSE, distillation_loss


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


def test_logit_mse_multi_label_is_mean_squared_logit_difference(logits):
    t, s = logits
    assert float(LogitMSE(True)(t, s)) == pytest.approx(((s - t) ** 2).mean(), rel=1e-5)


def test_logit_mse_single_label_ignores_a_shift_of_all_logits(logits):
    t, s = logits
    centred = lambda z: z - z.mean(-1, keepdims=True)  # noqa: E731
    expected = ((centred(s) - centred(t)) ** 2).mean()
    assert float(LogitMSE(False)(t, s)) == pytest.approx(expected, rel=1e-5)
    assert float(LogitMSE(False)(t + 3.0, s - 1.5)) == pytest.approx(expected, rel=1e-4)
    assert float(LogitMSE(True)(t + 3.0, s)) != pytest.approx(float(LogitMSE(True)(t, s)))


def test_distillation_loss_picks_the_term_and_refuses_kl_settings_for_mse(logits):
    t, s = logits
    assert isinstance(distillation_loss("kl", True, temperature=2.0), DistillationKL)
    assert float(distillation_loss("mse", True)(t, s)) == pytest.approx(float(LogitMSE(True)(t, s)))
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss("mse", True, temperature=2.0)
    with pytest.raises(ValueError, match="must be one of"):
        distillation_loss("cosine", True)
