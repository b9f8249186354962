"""The tf-idf LR student solved exactly: soft targets carry the distillation objective."""

import numpy as np
import pytest

from kdkeras.data.hedwig import Split
from kdkeras.models import build_tfidf_lr, fit_tfidf_lr
from kdkeras.models.tfidf_lr import row_weights, soft_targets
from kdkeras.text import WordTokenizer
from tests.distillation.losses_test import np_bernoulli_kl, np_categorical_kl, np_softmax


def _bce(q, s):
    p = 1 / (1 + np.exp(-s))
    return -(q * np.log(p) + (1 - q) * np.log(1 - p))


@pytest.mark.parametrize("multi_label", [True, False])
def test_soft_target_cross_entropy_is_the_distillation_objective(multi_label):
    # CE(labels) + λ·KL(teacher ‖ student) − (1 + λ)·CE(soft targets) does not depend on the student.
    rng = np.random.default_rng(0)
    labels = np.eye(4)[rng.integers(0, 4, 6)]
    teacher = rng.normal(size=(6, 4)) * 2
    q = soft_targets(labels, multi_label, teacher, alpha=2.0)
    gaps = []
    for _ in range(3):
        s = rng.normal(size=(6, 4)) * 2
        if multi_label:
            objective = _bce(labels, s).mean(1) + 2.0 * np_bernoulli_kl(teacher, s) / 4
            soft = 3.0 * _bce(q, s).mean(1)
        else:
            log_s = np.log(np_softmax(s))
            objective = -(labels * log_s).sum(1) + 2.0 * np_categorical_kl(teacher, s)
            soft = -3.0 * (q * log_s).sum(1)
        gaps.append(objective - soft)
    np.testing.assert_allclose(gaps[0], gaps[1], atol=1e-9)
    np.testing.assert_allclose(gaps[0], gaps[2], atol=1e-9)
    assert soft_targets(labels, multi_label) is not None and (soft_targets(labels, multi_label) == labels).all()


@pytest.mark.parametrize("multi_label", [True, False])
def test_soft_targets_with_unlabelled_documents_are_the_distillation_objective(multi_label):
    # Σ_labelled CE + λ Σ_all KL − (1 + λ) Σ w·CE(soft targets) does not depend on the student.
    rng = np.random.default_rng(1)
    labels = np.eye(4)[rng.integers(0, 4, 8)]
    labeled = np.arange(8) % 2 == 0
    labels[~labeled] = 0
    teacher = rng.normal(size=(8, 4)) * 2
    alpha = 1.5
    q, w = soft_targets(labels, multi_label, teacher, alpha, labeled), row_weights(labeled, alpha)
    gaps = []
    for _ in range(3):
        s = rng.normal(size=(8, 4)) * 2
        if multi_label:
            objective = labeled * _bce(labels, s).mean(1) + alpha * np_bernoulli_kl(teacher, s) / 4
            soft = (1 + alpha) * w * _bce(q, s).mean(1)
        else:
            log_s = np.log(np_softmax(s))
            objective = -(labels * log_s).sum(1) * labeled + alpha * np_categorical_kl(teacher, s)
            soft = -(1 + alpha) * w * (q * log_s).sum(1)
        gaps.append(objective.sum() - soft.sum())
    assert gaps[0] == pytest.approx(gaps[1]) and gaps[0] == pytest.approx(gaps[2])
    assert row_weights(None, alpha) is None


def _toy(multi_label, n=120, seed=0):
    rng = np.random.default_rng(seed)
    words = {0: "oil crude barrel", 1: "wheat grain harvest", 2: "bank rate loan"}
    texts, labels = [], []
    for _ in range(n):
        on = rng.random(3) < 0.4 if multi_label else np.eye(3, dtype=bool)[rng.integers(0, 3)]
        text = " ".join(rng.choice(words[k].split()) for k in range(3) if on[k] for _ in range(3))
        texts.append(text + " the of and " + " ".join(rng.choice(["x", "y", "z"], 3)))
        labels.append(on.astype(np.int8))
    return Split(texts, np.asarray(labels), "toy")


def _toy_fit_inputs(multi_label):
    """Toy train and dev splits, their tf-idf tokenizer and an untrained LR: `(train, dev, tokenizer, model)`."""
    train, dev = _toy(multi_label), _toy(multi_label, 60, 1)
    tokenizer = WordTokenizer.adapt(train.texts, 100, output_mode="tf_idf")
    return train, dev, tokenizer, build_tfidf_lr(tokenizer.vocabulary_size, 3)


@pytest.mark.parametrize("multi_label", [True, False])
def test_exact_fit_learns_and_follows_the_teacher(multi_label):
    train, dev, tokenizer, model = _toy_fit_inputs(multi_label)
    result = fit_tfidf_lr(model, tokenizer, train, dev, multi_label, grid=(1.0, 10.0), extend=0)
    assert result["dev_score"] > 90 and result["C"] in (1.0, 10.0) and set(result["dev_by_C"]) == {"1", "10"}
    logits = np.asarray(model(np.asarray(tokenizer(dev.texts))))
    from kdkeras import metrics
    assert metrics.score(dev.labels, logits, multi_label) == pytest.approx(result["dev_score"])
    # A teacher that always says class 0, weighted heavily, pulls the student towards class 0.
    teacher = np.tile([6.0, -6.0, -6.0], (len(train.texts), 1))
    distilled = build_tfidf_lr(tokenizer.vocabulary_size, 3)
    fit_tfidf_lr(distilled, tokenizer, train, dev, multi_label, teacher_logits=teacher, alpha=20.0, grid=(10.0,))
    probe = np.asarray(tokenizer(["wheat grain harvest the of"]))
    plain_logits, kd_logits = np.asarray(model(probe))[0], np.asarray(distilled(probe))[0]
    assert kd_logits[0] - kd_logits[1] > plain_logits[0] - plain_logits[1]


@pytest.mark.parametrize("multi_label", [True, False])
def test_exact_fit_extends_the_grid_while_dev_improves(multi_label):
    # C = 0.01 leaves the weights near 0; 0.1 is better, so the fit looks a step past the grid.
    train, dev, tokenizer, model = _toy_fit_inputs(multi_label)
    result = fit_tfidf_lr(model, tokenizer, train, dev, multi_label, grid=(0.01, 0.1), extend=3)
    scores = result["dev_by_C"]
    assert {"0.01", "0.1", "1"} <= set(scores) and len(scores) <= 5 and scores["0.1"] > scores["0.01"]
    assert result["dev_score"] == max(scores.values()) == 100.0
    assert set(fit_tfidf_lr(model, tokenizer, train, dev, multi_label, grid=(0.01, 0.1), extend=0)["dev_by_C"]) == {
        "0.01", "0.1"}
