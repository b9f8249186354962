"""Non-distilled scikit-learn baselines: logistic regression and linear SVM on tf-idf."""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from kdkeras import metrics

KINDS = ("lr", "svm")
DEFAULT_GRID = {"lr": (1.0, 10.0, 100.0), "svm": (0.1, 1.0, 10.0)}


def make_baseline(kind, multi_label, C=1.0, seed=0):
    """A scikit-learn pipeline: `TfidfVectorizer(sublinear_tf, English stop words)` + linear model.

    Both models are one-vs-rest liblinear classifiers (for multi-label data
    through `OneVsRestClassifier`, also for single-label classes).

    Example:
    >>> model = make_baseline("svm", multi_label=True).fit(texts, label_bits)
    """
    if kind == "lr":
        clf = LogisticRegression(C=C, solver="liblinear", max_iter=1000, random_state=seed)
    elif kind == "svm":
        clf = LinearSVC(C=C, random_state=seed)
    else:
        raise ValueError(f"unknown baseline {kind!r}; known: {', '.join(KINDS)}")
    return make_pipeline(TfidfVectorizer(sublinear_tf=True, stop_words="english"), OneVsRestClassifier(clf))


def decision_scores(model, texts, multi_label):
    """Logit-like scores: positive means "label on" (multi-label) / arg-max is the class."""
    scores = model.decision_function(texts)
    return np.asarray(scores).reshape(len(texts), -1)


def _targets(labels, multi_label):
    return labels if multi_label else labels.argmax(axis=1)


def fit(kind, train, multi_label, *, C=1.0, seed=0):
    """Fits one baseline with a given `C` on `train`.

    Labels never seen in train (possible in multi-label data) get no
    classifier and are always predicted off.

    Returns:
        `(model, columns)` where `columns` maps the model's outputs to label
        positions (see `logits`).
    """
    y = _targets(train.labels, multi_label)
    if multi_label:
        columns = np.flatnonzero(train.labels.sum(axis=0) > 0)
        y = y[:, columns]
    else:
        columns = np.unique(y)
    return make_baseline(kind, multi_label, C, seed).fit(train.texts, y), columns


def select_and_fit(kind, train, dev, multi_label, grid=None, seed=0):
    """Fits one model per C in `grid` (see `fit`), keeps the best on dev.

    Returns:
        `(model, C, dev_score, columns)`.
    """
    best = None
    for C in grid or DEFAULT_GRID[kind]:
        model, columns = fit(kind, train, multi_label, C=C, seed=seed)
        score = metrics.score(dev.labels, logits(model, columns, dev.texts, dev.labels.shape[1], multi_label), multi_label)
        if best is None or score > best[2]:
            best = (model, C, score, columns)
    return best


def logits(model, columns, texts, num_classes, multi_label):
    """Scores in label order, very negative for labels the model cannot predict."""
    out = np.full((len(texts), num_classes), -1e4, dtype="float32")
    scores = decision_scores(model, texts, multi_label)
    if scores.shape[1] == 1 and len(columns) == 2:  # binary single-label case
        scores = np.concatenate([-scores, scores], axis=1)
    out[:, columns] = scores
    return out
