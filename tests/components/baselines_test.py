"""Baselines: the scikit-learn tf-idf LR and linear SVM fitted, C chosen on dev, and scored through the component."""

import pytest

from components.artifacts import BASELINE_SCORES_FILE, read_json
from components.baselines import Baselines
from components.example_gen import ExampleGen
from kdkeras import baselines
from tests.helpers import make_docs, quiet, write_hedwig


def test_scores_both_baselines_on_dev_and_test(tmp_path, tiny_examples):
    artifact = Baselines().run({"examples": tiny_examples}, str(tmp_path), log=quiet)
    scores = read_json(artifact, BASELINE_SCORES_FILE)
    assert set(scores) == {"sklearn_lr", "svm"}  # `lr` is the Keras student's name
    for name, kind in (("sklearn_lr", "lr"), ("svm", "svm")):
        row = scores[name]
        assert {"C", "dev", "test", "params"} <= set(row)
        assert min(baselines.DEFAULT_GRID[kind]) / 1000 <= row["C"] <= max(baselines.DEFAULT_GRID[kind]) * 1000
        assert row["dev"] > 80 and row["test"] > 80  # topic words decide the toy labels
        assert row["params"] > 3 and row["params"] % 3 == 0  # one weight per word and a bias, per label
    assert scores["sklearn_lr"]["params"] == scores["svm"]["params"]  # the same tf-idf features
    assert artifact.metadata["results"] == scores  # the Evaluator reads them from the metadata


def test_kinds_and_single_label_accuracy(tmp_path):
    data = write_hedwig(str(tmp_path / "data"), {"train": make_docs(90, 0, multi_label=False),
                                                 "dev": make_docs(30, 1, multi_label=False),
                                                 "test": make_docs(30, 2, multi_label=False)})
    examples = ExampleGen(dataset="custom", data_dir=data, multi_label=False).run({}, str(tmp_path / "run"), log=quiet)
    artifact = Baselines(kinds=["svm"]).run({"examples": examples}, str(tmp_path / "run"), log=quiet)
    scores = read_json(artifact, BASELINE_SCORES_FILE)
    assert set(scores) == {"svm"}
    # Accuracy on 30 documents: a multiple of 1/30.
    for split in ("dev", "test"):
        assert scores["svm"][split] * 30 / 100 == pytest.approx(round(scores["svm"][split] * 30 / 100), abs=1e-9)
    assert scores["svm"]["test"] > 80

