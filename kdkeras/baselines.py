"""Non-distilled scikit-learn baselines: logistic regression and linear SVM on tf-idf."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
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


def fit(kind, train, multi_label, *, C=1.0, seed=0, log=None):
    """Fits one baseline with a given `C` on `train`.

    Labels never seen in train (possible in multi-label data) get no
    classifier and are always predicted off. liblinear stops after its
    iteration limit; scikit-learn's warning about it becomes one line to
    `log` saying for how many of the one-vs-rest classifiers it happened.

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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = make_baseline(kind, multi_label, C, seed).fit(train.texts, y)
    stopped = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if stopped and log:
        log(f"{kind} C={C:g}: liblinear reached its iteration limit before converging for {stopped} of "
            f"{len(model[-1].estimators_)} one-vs-rest classifiers")
    return model, columns


def next_C(scores, grid, extend):
    """The next inverse L2 strength to try: one tenfold step past the edge of the tried values where dev still improves.

    A C search over a fixed grid can end on its edge, the best dev score at
    the smallest or largest value: how much regularisation is right depends
    on the data's size and noise, and on the targets. This steps on in that
    direction while the edge value is strictly better than every other
    tried, at most `extend` steps past `grid`.

    Args:
        scores: dev score by the C values tried so far.
        grid: the grid the search started from.
        extend: the most tenfold steps past either end of `grid` (0: none;
            a one-value grid is never extended).

    Returns:
        `[C]` to try next, or `[]` when the search is done.

    Example:
    >>> next_C({10.0: 80.0, 100.0: 79.0, 1000.0: 78.0}, (10.0, 100.0, 1000.0), 3)
    [1.0]
    """
    tried = sorted(scores)
    if len(tried) < 2:
        return []
    top = max(scores.values())
    low, high = tried[0], tried[-1]
    if scores[low] == top > max(scores[c] for c in tried[1:]) and low > min(grid) / 10.0**extend * 1.0001:
        return [low / 10.0]
    if scores[high] == top > max(scores[c] for c in tried[:-1]) and high < max(grid) * 10.0**extend / 1.0001:
        return [high * 10.0]
    return []


def C_values(grid, scores, extend):
    """The C values of a search: `grid`, then `next_C`'s steps while the caller fills `scores`.

    Args:
        grid: the values tried first, in order.
        scores: a dict the caller sets `scores[C]` in before asking for the next value.
        extend: the most tenfold steps past either end of `grid` (see `next_C`).

    Example:
    >>> scores = {}
    >>> for C in C_values((1.0, 10.0), scores, extend=3):
    ...     scores[C] = dev_score(C)
    """
    yield from grid
    while step := next_C(scores, grid, extend):
        yield step[0]


def select_and_fit(kind, train, dev, multi_label, grid=None, extend=3, seed=0, log=None):
    """Fits one model per C in `grid` (see `fit`, which reports to `log`) and keeps the best on dev.

    When the best C is at an edge of the values tried and still improving,
    the search goes on tenfold that way (`next_C`, at most `extend` steps).

    Returns:
        `(model, C, dev_score, columns)`.
    """
    best, scores = None, {}
    for C in C_values(tuple(grid or DEFAULT_GRID[kind]), scores, extend):
        model, columns = fit(kind, train, multi_label, C=C, seed=seed, log=log)
        scores[C] = metrics.score(dev.labels, logits(model, columns, dev.texts, dev.labels.shape[1], multi_label),
                                  multi_label)
        if best is None or scores[C] > best[2]:
            best = (model, C, scores[C], columns)
    return best


def logits(model, columns, texts, num_classes, multi_label):
    """Scores in label order, very negative for labels the model cannot predict."""
    out = np.full((len(texts), num_classes), -1e4, dtype="float32")
    scores = decision_scores(model, texts, multi_label)
    if scores.shape[1] == 1 and len(columns) == 2:  # binary single-label case
        scores = np.concatenate([-scores, scores], axis=1)
    out[:, columns] = scores
    return out
