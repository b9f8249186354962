"""ExampleGen: validated splits as tf.Example, reused while the data files' contents are unchanged."""

import os

from components.example_gen import ExampleGen
from components.base import Artifact


def test_reused_by_content_not_modification_time(toy_dir, tmp_path):
    run = str(tmp_path / "run")
    lines = []
    first = ExampleGen(dataset="custom", data_dir=toy_dir).run({}, run, log=lines.append)
    assert first.metadata["results"]["rows"]["train"] > 0
    # Touched (a fresh clone, a copy, a re-download of the same bytes): reused.
    for name in os.listdir(toy_dir):
        os.utime(os.path.join(toy_dir, name), (1, 1))
    again = ExampleGen(dataset="custom", data_dir=toy_dir).run({}, run, log=lines.append)
    assert again.fingerprint == first.fingerprint and any("up to date" in line for line in lines)
    # Edited: read again.
    train = os.path.join(toy_dir, "train.tsv")
    rows = open(train).read().splitlines(keepends=True)
    with open(train, "w") as f:
        f.writelines(rows[:-1])
    edited = ExampleGen(dataset="custom", data_dir=toy_dir).run({}, run, log=lines.append)
    assert edited.fingerprint != first.fingerprint
    assert Artifact(edited.uri).metadata["results"]["rows"]["train"] == first.metadata["results"]["rows"]["train"] - 1
