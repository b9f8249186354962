"""Evaluation metrics of the paper: micro-F1 (multi-label) and accuracy (single-label).

Two decision rules for multi-label data: the paper's (`score`: every label
whose sigmoid is above 0.5, possibly none) and the one exported bundles
serve (`served_score`: the same, but a document with no label above 0.5
gets its most probable one, since every document has at least one label).
Single-label data has one rule (the arg-max), so the two scores agree.
"""

import numpy as np


def predict_labels(logits, multi_label):
    """Turns logits into predicted label bits.

    Multi-label: a label is on when its sigmoid exceeds 0.5 (logit > 0).
    Single-label: the arg-max class.

    Returns:
        int8 array of shape `(num_docs, num_classes)`.
    """
    logits = np.asarray(logits)
    if multi_label:
        return (logits > 0).astype(np.int8)
    out = np.zeros(logits.shape, np.int8)
    out[np.arange(len(logits)), logits.argmax(axis=1)] = 1
    return out


def score(labels, logits, multi_label):
    """The paper's metric in percent: micro-F1 or accuracy.

    Args:
        labels: gold label bits, shape `(num_docs, num_classes)`.
        logits: model logits, same shape.
        multi_label: selects micro-F1 (True) or accuracy (False).

    Example:
    >>> score([[1, 0], [0, 1]], [[2.0, -1.0], [0.5, -0.2]], multi_label=True)
    66.66666666666666
    """
    from sklearn.metrics import accuracy_score, f1_score  # here: serving imports this module for label_sets

    labels = np.asarray(labels)
    if multi_label:
        pred = predict_labels(logits, True)
        return 100.0 * f1_score(labels, pred, average="micro", zero_division=0)
    return 100.0 * accuracy_score(labels.argmax(axis=1), np.asarray(logits).argmax(axis=1))


def label_sets(probabilities, multi_label, threshold=0.5):
    """The label sets a bundle serves, bool `(documents, labels)`, from scores `(documents, labels)`.

    Multi-label: every label above `threshold`, or the most probable one when
    none is (a document always gets a label); single-label: the argmax.
    Works on probabilities, or on logits with `threshold=0`.
    """
    probabilities = np.asarray(probabilities)
    on = probabilities > threshold if multi_label else np.zeros(probabilities.shape, bool)
    empty = np.flatnonzero(~on.any(axis=1))
    on[empty, probabilities[empty].argmax(axis=1)] = True
    return on


def served_score(labels, logits, multi_label):
    """The metric in percent of the label sets bundles serve (`label_sets`); equals `score` for single-label data.

    Example:
    >>> served_score([[1, 0], [0, 1]], [[2.0, -1.0], [-0.5, -0.2]], multi_label=True)
    100.0
    """
    from sklearn.metrics import f1_score

    if not multi_label:
        return score(labels, logits, False)
    pred = label_sets(logits, True, threshold=0.0).astype(np.int8)
    return 100.0 * f1_score(np.asarray(labels), pred, average="micro", zero_division=0)


def metric_name(multi_label):
    return "micro_f1" if multi_label else "accuracy"


def gap_closed(teacher, plain, distilled):
    """The share of a plain student's gap to its teacher that distillation closes: (KD − plain) / (teacher − plain).

    1.0: the distilled student reaches the teacher; 0.0: distillation did
    not move it; negative: it lost points. None when the teacher is not above
    the plain student (there is no gap to close).

    Example:
    >>> gap_closed(teacher=89.0, plain=81.0, distilled=85.0)
    0.5
    """
    gap = teacher - plain
    return (distilled - plain) / gap if gap > 0 else None
