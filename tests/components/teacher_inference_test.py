"""TeacherInference: the tiny teacher's logits for every split, stored beside the documents."""

import json

import numpy as np
import pytest

from components.artifacts import SCHEMA_FILE, TEACHER_SCORES_FILE, load_schema, load_teacher, read_split
from components.teacher_inference import TeacherInference
from kdkeras import batches, metrics
from kdkeras.data.hedwig import DataError
from tests.helpers import quiet, teacher_trained_on


def test_stores_the_teachers_logits_for_every_split(tmp_path, tiny_examples, tiny_teacher):
    artifact = TeacherInference(batch_size=8).run({"examples": tiny_examples, "teacher": tiny_teacher}, str(tmp_path),
                                                   log=quiet)
    assert load_schema(artifact) == load_schema(tiny_examples)
    model, preprocessor = load_teacher(tiny_teacher)
    with open(artifact.path(TEACHER_SCORES_FILE)) as f:
        scores = json.load(f)
    assert set(scores) == {"train", "dev", "test"}
    stored = {}
    for name in ("train", "dev", "test"):
        split, stored[name] = read_split(artifact, name, with_logits=True)
        original, _ = read_split(tiny_examples, name)
        assert split.texts == original.texts
        np.testing.assert_array_equal(split.labels, original.labels)
        assert stored[name].shape == (len(original), 3)
        assert scores[name] == pytest.approx(metrics.score(split.labels, stored[name], True))
    # Length-bucketed batches give the logits of plain, padded ones (dev and test, in one call).
    texts = read_split(tiny_examples, "dev")[0].texts + read_split(tiny_examples, "test")[0].texts
    np.testing.assert_allclose(np.concatenate([stored["dev"], stored["test"]]),
                               batches.predict_logits(model, preprocessor, texts), atol=1e-5)
    # The dev score the trainer selected its epoch by is the one inference reproduces.
    assert scores["dev"] == pytest.approx(tiny_teacher.metadata["results"]["dev_score"], abs=1e-6)
    assert artifact.metadata["results"] == {"teacher_micro_f1": scores}
    assert SCHEMA_FILE in artifact.metadata["outputs"]


def test_labels_only_the_splits_asked_for(tmp_path, tiny_examples, tiny_teacher):
    artifact = TeacherInference(splits=["dev", "test"]).run({"examples": tiny_examples, "teacher": tiny_teacher},
                                                           str(tmp_path), log=quiet)
    assert set(artifact.metadata["results"]["teacher_micro_f1"]) == {"dev", "test"}
    assert not any(path.startswith("Split-train") for path in artifact.metadata["outputs"])
    with pytest.raises(DataError, match="Split-train"):
        read_split(artifact, "train")
    # The default (all three splits) keeps the fingerprint it had before `splits` existed.
    default = TeacherInference()
    assert "splits" not in default.fingerprint_parameters()
    inputs = {"examples": tiny_examples, "teacher": tiny_teacher}
    assert TeacherInference(splits=["dev", "test"]).fingerprint(inputs) != default.fingerprint(inputs)


def test_reads_more_word_pieces_than_the_teacher_trained_on(tmp_path, tiny_examples, tiny_teacher):
    # The tiny teacher has positions for 32 word pieces; a copy whose preprocessor says 12 stands for a teacher
    # trained on 12 that can read 32.
    assert load_teacher(tiny_teacher)[1].sequence_length == 32
    teacher = teacher_trained_on(tiny_teacher, str(tmp_path / "teacher"), 12)
    inputs = {"examples": tiny_examples, "teacher": teacher}
    default = TeacherInference().run(inputs, str(tmp_path / "default"), log=quiet)
    lines = []
    longer = TeacherInference(sequence_length=64).run(inputs, str(tmp_path / "longer"), log=lines.append)
    assert any("up to 32 word pieces" in line for line in lines)  # capped by the position embeddings
    texts, stored = read_split(longer, "dev", with_logits=True)
    model, preprocessor = load_teacher(tiny_teacher)  # reads 32
    np.testing.assert_allclose(stored, batches.predict_logits(model, preprocessor, texts.texts), atol=1e-5)
    assert not np.allclose(stored, read_split(default, "dev", with_logits=True)[1], atol=1e-4)
    # Unset, the length keeps the fingerprint artifacts had before it existed.
    assert "sequence_length" not in TeacherInference().fingerprint_parameters()
    assert TeacherInference(sequence_length=64).fingerprint(inputs) != TeacherInference().fingerprint(inputs)
