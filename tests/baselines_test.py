import numpy as np

from kdkeras import baselines, metrics
from kdkeras.data.hedwig import Split
from tests.helpers import make_docs


def split(n, seed, multi_label=True):
    rows = make_docs(n, seed, multi_label)
    return Split([t for _, t in rows], np.array([[int(b) for b in bits] for bits, _ in rows], np.int8))


def test_baselines_learn_toy_tasks():
    for multi_label in (True, False):
        train, dev, test = (split(n, s, multi_label) for n, s in ((200, 0), (50, 1), (50, 2)))
        for kind in baselines.KINDS:
            model, C, dev_score, columns = baselines.select_and_fit(kind, train, dev, multi_label)
            grid = baselines.DEFAULT_GRID[kind]
            assert min(grid) / 1000 <= C <= max(grid) * 1000 and dev_score > 90
            logits = baselines.logits(model, columns, test.texts, 3, multi_label)
            assert metrics.score(test.labels, logits, multi_label) > 90


def test_labels_missing_from_train_are_never_predicted():
    train, dev = split(100, 0), split(30, 1)
    train.labels[:, 2] = 0
    model, _, _, columns = baselines.select_and_fit("svm", train, dev, True)
    assert list(columns) == [0, 1]
    assert (baselines.logits(model, columns, dev.texts, 3, True)[:, 2] < 0).all()


def test_the_C_search_goes_past_a_grid_that_is_too_strong():
    train, dev = split(200, 0), split(50, 1)
    scores = {}
    for C in (1e-4, 1e-3):
        model, columns = baselines.fit("lr", train, True, C=C)
        scores[C] = metrics.score(dev.labels, baselines.logits(model, columns, dev.texts, 3, True), True)
    assert scores[1e-3] > scores[1e-4]  # still improving at the top of this grid
    _, C, dev_score, _ = baselines.select_and_fit("lr", train, dev, True, grid=(1e-4, 1e-3))
    assert C > 1e-3 and dev_score > scores[1e-3]
    _, C, _, _ = baselines.select_and_fit("lr", train, dev, True, grid=(1e-4, 1e-3), extend=0)
    assert C == 1e-3


def test_next_C_steps_past_an_edge_that_still_improves():
    grid = (10.0, 100.0, 1000.0)
    assert baselines.next_C({10.0: 80, 100.0: 79, 1000.0: 78}, grid, 3) == [1.0]
    assert baselines.next_C({10.0: 78, 100.0: 79, 1000.0: 80}, grid, 3) == [10000.0]
    assert baselines.next_C({10.0: 78, 100.0: 80, 1000.0: 79}, grid, 3) == []  # the best is inside
    assert baselines.next_C({10.0: 80, 100.0: 80, 1000.0: 79}, grid, 3) == []  # a tie at the edge: not improving
    assert baselines.next_C({0.01: 81, 0.1: 80, 10.0: 70}, grid, 3) == []  # three steps down already
    assert baselines.next_C({10.0: 80, 100.0: 79}, grid, 0) == []
    assert baselines.next_C({10.0: 80}, (10.0,), 3) == []  # one value: no direction to go


def test_a_solver_stopped_at_its_iteration_limit_is_one_line_of_ours(monkeypatch):
    import warnings

    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    monkeypatch.setattr(baselines, "make_baseline", lambda kind, multi_label, C, seed: make_pipeline(
        TfidfVectorizer(), OneVsRestClassifier(LinearSVC(C=C, max_iter=1, random_state=seed))))
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's ConvergenceWarning would raise here
        baselines.fit("svm", split(100, 0), True, C=10.0, log=lines.append)
    assert len(lines) == 1 and lines[0].startswith("svm C=10: liblinear reached its iteration limit")
    assert lines[0].endswith("of 3 one-vs-rest classifiers")
