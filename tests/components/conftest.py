"""Upstream artifacts shared by the component tests, made once per test session on tiny data.

Each test writes its own outputs under its own `tmp_path`; these artifacts
are only read.
"""

import pytest

from tests.helpers import make_docs, quiet, smoke_settings, write_hedwig


@pytest.fixture(scope="session")
def tiny_examples(tmp_path_factory):
    """An ExampleGen artifact: 120 train, 30 dev, 30 test multi-label `make_docs` documents over 3 labels."""
    from components.example_gen import ExampleGen

    root = tmp_path_factory.mktemp("upstream")
    data = write_hedwig(str(root / "data"), {"train": make_docs(120, 0), "dev": make_docs(30, 1),
                                             "test": make_docs(30, 2)})
    return ExampleGen(dataset="custom", data_dir=data).run({}, str(root / "run"), log=quiet)


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory, tiny_examples):
    """A TeacherTrainer artifact trained on `tiny_examples` with the smoke profile (tiny random BERT, 1 epoch)."""
    from components.teacher_trainer import TeacherTrainer

    return TeacherTrainer(**smoke_settings()).run({"examples": tiny_examples}, str(tmp_path_factory.mktemp("teacher")),
                                                  log=quiet)
