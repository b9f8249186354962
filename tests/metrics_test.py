import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from kdkeras import metrics

LABELS = np.asarray([[1, 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0]], "int8")
LOGITS = np.asarray([[2.0, -1.0, -3.0],   # right
                     [-1.0, 0.5, -0.2],   # one of two
                     [-0.3, -2.0, -0.1],  # none above 0: served gets the argmax (right)
                     [-0.1, -0.4, -2.0]]) # none above 0: served gets the argmax (one of two)


def test_paper_score_thresholds_at_zero():
    expected = 100 * f1_score(LABELS, (LOGITS > 0).astype(int), average="micro")
    assert metrics.score(LABELS, LOGITS, True) == pytest.approx(expected)


def test_served_score_gives_every_document_its_most_probable_label():
    served = metrics.label_sets(LOGITS, True, threshold=0.0)
    assert served.any(axis=1).all()
    np.testing.assert_array_equal(served[2:], [[False, False, True], [True, False, False]])
    expected = 100 * f1_score(LABELS, served.astype(int), average="micro")
    assert metrics.served_score(LABELS, LOGITS, True) == pytest.approx(expected)
    assert metrics.served_score(LABELS, LOGITS, True) > metrics.score(LABELS, LOGITS, True)


def test_single_label_has_one_rule():
    labels = np.eye(3, dtype="int8")[[0, 2, 1, 1]]
    logits = np.asarray([[3, 1, 0], [0, 1, 2], [2, 1, 0], [0, 5, 1]], "float32")
    assert metrics.served_score(labels, logits, False) == metrics.score(labels, logits, False) == pytest.approx(
        100 * accuracy_score([0, 2, 1, 1], logits.argmax(1)))


def test_probabilities_use_a_half_threshold():
    probabilities = 1 / (1 + np.exp(-LOGITS))
    np.testing.assert_array_equal(metrics.label_sets(probabilities, True),
                                  metrics.label_sets(LOGITS, True, threshold=0.0))


def test_gap_closed_is_the_share_of_the_teacher_gap():
    assert metrics.gap_closed(teacher=89.0, plain=81.0, distilled=85.0) == pytest.approx(0.5)
    assert metrics.gap_closed(teacher=89.0, plain=81.0, distilled=80.0) == pytest.approx(-0.125)  # KD lost points
    assert metrics.gap_closed(teacher=80.0, plain=81.0, distilled=85.0) is None  # no gap to close
    assert metrics.gap_closed(teacher=81.0, plain=81.0, distilled=81.0) is None
