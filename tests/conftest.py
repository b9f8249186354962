"""Shared fixtures: tiny datasets written by the tests themselves (helpers in `tests/helpers.py`)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Commands called in-process must not re-plumb the test runner's stderr (kdkeras.logs); tests/logs_test.py
# checks the filter in child processes.
os.environ.setdefault("KDKERAS_VERBOSE", "1")

from tests.helpers import make_docs, write_hedwig  # noqa: E402  (after the environment is set)


@pytest.fixture
def toy_dir(tmp_path):
    """A small multi-label dataset in hedwig layout (train/dev/test)."""
    return write_hedwig(
        str(tmp_path / "toy"),
        {"train": make_docs(160, 0), "dev": make_docs(40, 1), "test": make_docs(40, 2)},
    )
