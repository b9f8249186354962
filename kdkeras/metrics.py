"""Evaluation metrics of the paper: micro-F1 (multi-label) and accuracy (single-label)."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


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
    labels = np.asarray(labels)
    if multi_label:
        pred = predict_labels(logits, True)
        return 100.0 * f1_score(labels, pred, average="micro", zero_division=0)
    return 100.0 * accuracy_score(labels.argmax(axis=1), np.asarray(logits).argmax(axis=1))


def metric_name(multi_label):
    return "micro_f1" if multi_label else "accuracy"
