import keras
import numpy as np
import pytest

from kdkeras.distillation import Distiller
from tests.distillation.losses_test import np_bernoulli_kl, np_categorical_kl, np_softmax


def dense_student(num_classes, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,))
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Dense(16, activation="relu")(inputs)))


def data(num_classes, multi_label, n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    teacher = (rng.normal(size=(n, num_classes)) * 2).astype("float32")
    if multi_label:
        y = (rng.random((n, num_classes)) < 0.3).astype("float32")
    else:
        y = rng.integers(0, num_classes, n).astype("int32")
    return x, y, teacher


def np_reference(student, x, y, teacher, multi_label, alpha, temperature):
    s = np.asarray(student(x), np.float64)
    if multi_label:
        p = 1 / (1 + np.exp(-s))
        ce = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
        kd = np_bernoulli_kl(teacher / temperature, s / temperature).mean() / s.shape[1]  # mean over labels, like BCE
    else:
        ce = -np.log(np_softmax(s)[np.arange(len(y)), y]).mean()
        kd = np_categorical_kl(teacher / temperature, s / temperature).mean()
    return ce + alpha * kd * temperature**2


@pytest.mark.parametrize("multi_label, alpha, temperature", [(True, 1.0, 1.0), (False, 4.0, 1.0), (False, 2.0, 3.0)])
def test_loss_matches_numpy_reference(multi_label, alpha, temperature):
    x, y, teacher = data(5, multi_label)
    student = dense_student(5)
    distiller = Distiller(student, multi_label=multi_label, alpha=alpha, temperature=temperature)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    expected = np_reference(student, x, y, teacher, multi_label, alpha, temperature)
    target = {"labels": y, "teacher_logits": teacher}
    result = distiller.evaluate(x, target, batch_size=64, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(expected, rel=1e-4)
    # train_step computes the same loss (learning rate 0: weights do not move).
    history = distiller.fit(x, target, batch_size=64, epochs=1, verbose=0, shuffle=False).history
    assert history["loss"][0] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("multi_label", [True, False])
def test_alpha_zero_trains_exactly_like_plain_student(multi_label):
    x, y, teacher = data(4, multi_label, n=96)
    plain, kd = dense_student(4, seed=1), dense_student(4, seed=1)
    np.testing.assert_array_equal(plain.get_weights()[0], kd.get_weights()[0])
    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if multi_label
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    plain.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    distiller = Distiller(kd, multi_label=multi_label, alpha=0.0)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    distiller.fit(x, {"labels": y, "teacher_logits": teacher}, batch_size=32, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(plain.get_weights(), kd.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(kd.get_weights()[0], dense_student(4, seed=1).get_weights()[0])


def test_distillation_pulls_student_towards_teacher():
    x, y, _ = data(3, False, n=128)
    teacher = x @ np.random.default_rng(5).normal(size=(8, 3)).astype("float32")  # learnable from x
    student = dense_student(3)
    distiller = Distiller(student, multi_label=False, alpha=10.0)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = distiller.fit(x, {"labels": y, "teacher_logits": teacher}, epochs=20, batch_size=32, verbose=0)
    kd = history.history["distillation_loss"]
    assert kd[-1] < 0.5 * kd[0]


def test_online_teacher_equals_precomputed_logits():
    x, y, _ = data(3, True)
    teacher = dense_student(3, seed=7)
    logits = np.asarray(teacher(x))
    online = Distiller(dense_student(3), teacher=teacher, multi_label=True)
    online.compile(optimizer="sgd")
    stored = Distiller(dense_student(3), multi_label=True)
    stored.compile(optimizer="sgd")
    a = online.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    b = stored.evaluate(x, {"labels": y, "teacher_logits": logits}, verbose=0, return_dict=True)["loss"]
    assert a == pytest.approx(b, rel=1e-6)
    assert not teacher.trainable


def test_missing_teacher_logits_is_an_error():
    x, y, _ = data(3, True)
    distiller = Distiller(dense_student(3), multi_label=True)
    distiller.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="teacher_logits"):
        distiller.fit(x, y, verbose=0)


def test_compiled_metrics_are_reported():
    x, y, teacher = data(3, True)
    distiller = Distiller(dense_student(3), multi_label=True)
    distiller.compile(optimizer="adam", metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
    logs = distiller.evaluate(x, {"labels": y, "teacher_logits": teacher}, verbose=0, return_dict=True)
    assert {"loss", "student_loss", "distillation_loss", "binary_accuracy"} <= set(logs)


@pytest.mark.parametrize("multi_label", [True, False])
def test_documents_without_labels_train_on_the_distillation_term_only(multi_label):
    # Σ_labelled CE + λ Σ_all KL over the batch size: an unlabelled row adds only its KL.
    x, y, teacher = data(5, multi_label, n=48)
    labeled = (np.arange(48) % 3 != 0).astype("float32")
    student = dense_student(5)
    alpha = 2.0
    distiller = Distiller(student, multi_label=multi_label, alpha=alpha)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    s = np.asarray(student(x), np.float64)
    if multi_label:
        p = 1 / (1 + np.exp(-s))
        ce = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(1)
        kd = np_bernoulli_kl(teacher, s) / s.shape[1]
    else:
        ce = -np.log(np_softmax(s)[np.arange(len(y)), y])
        kd = np_categorical_kl(teacher, s)
    expected = (labeled * ce).mean() + alpha * kd.mean()
    target = {"labels": y, "teacher_logits": teacher, "labeled": labeled}
    result = distiller.evaluate(x, target, batch_size=48, verbose=0, return_dict=True)
    assert result["loss"] == pytest.approx(expected, rel=1e-4)
    history = distiller.fit(x, target, batch_size=48, epochs=1, verbose=0, shuffle=False).history
    assert history["loss"][0] == pytest.approx(expected, rel=1e-4)
    # The labels of unlabelled rows do not matter.
    scrambled = {**target, "labels": np.where(labeled[:, None] > 0, y, 1 - y) if multi_label
                 else np.where(labeled > 0, y, (y + 1) % 5).astype("int32")}
    again = distiller.evaluate(x, scrambled, batch_size=48, verbose=0, return_dict=True)
    assert again["loss"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("multi_label", [True, False])
def test_logit_mse_term_matches_numpy_reference(multi_label):
    x, y, teacher = data(5, multi_label)
    student = dense_student(5)
    distiller = Distiller(student, multi_label=multi_label, alpha=0.5, distillation_loss="mse")
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    s = np.asarray(student(x), np.float64)
    if multi_label:
        ce = -(y * np.log(1 / (1 + np.exp(-s))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-s)))).mean()
        kd = ((s - teacher) ** 2).mean()
    else:
        ce = -np.log(np_softmax(s)[np.arange(len(y)), y]).mean()
        kd = (((s - s.mean(-1, keepdims=True)) - (teacher - teacher.mean(-1, keepdims=True))) ** 2).mean()
    result = distiller.evaluate(x, {"labels": y, "teacher_logits": teacher}, batch_size=64, verbose=0,
                                return_dict=True)
    assert result["distillation_loss"] == pytest.approx(kd, rel=1e-4)
    assert result["loss"] == pytest.approx(ce + 0.5 * kd, rel=1e-4)
