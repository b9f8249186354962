"""StudentTrainer: plain, distilled and transfer-set students trained through the component (smoke sizes)."""

import json
import os
import shutil

import numpy as np
import pytest

from components.artifacts import (
    CURVES_FILE, HISTORY_FILE, SCHEMA_FILE, STUDENT_MODEL_FILE, TOKENIZER_DIR, RunDir, load_student, read_split,
    student_name,
)
from components.base import Component, ComponentSpec
from components.student_trainer import StudentTrainer
from kdkeras import batches, metrics
from kdkeras.data import examples as records
from kdkeras.data.hedwig import DataError
from tests.helpers import labels_as_logits, make_docs, quiet, smoke_settings, stored_logits


def train(run_dir, student, inputs, seed=0, alpha=None, **changes):
    """A StudentTrainer run with the smoke profile's settings for `student` (distilled when `alpha` is given)."""
    settings = {**smoke_settings(student), **changes}
    if alpha is not None:
        settings.update(distill=True, alpha=alpha)
    trainer = StudentTrainer(name=student_name(student, seed=seed, alpha=alpha), student=student, seed=seed, **settings)
    return trainer.run(inputs, str(run_dir), log=quiet)


def logits_on(artifact, split):
    student, tokenizer = load_student(artifact)
    return batches.predict_logits(student, tokenizer, split.texts)


def test_plain_student_keeps_and_saves_its_best_dev_weights(tmp_path, tiny_examples):
    artifact = train(tmp_path, "lstm", {"examples": tiny_examples})
    assert artifact.uri == RunDir(str(tmp_path)).student("lstm", seed=0).uri
    meta = artifact.metadata
    assert meta["inputs"] == {"examples": tiny_examples.uri} and not meta["parameters"]["distill"]
    for name in (STUDENT_MODEL_FILE, HISTORY_FILE, CURVES_FILE):
        assert name in meta["outputs"]
    results = meta["results"]
    assert results["fit"] == "gradient" and results["updates"] == 4 and results["train_records"] == 120
    with open(artifact.path(HISTORY_FILE)) as f:
        history = json.load(f)
    scores = history["history"]["val_micro_f1"]
    assert len(scores) == 2  # 4 updates, scored on dev twice
    assert results["best_epoch"] == int(np.argmax(scores)) + 1 and results["dev_score"] == max(scores)
    student, tokenizer = load_student(artifact)
    assert student.count_params() == results["params"] > 0
    assert tokenizer.sequence_length == 40 and tokenizer.vocabulary_size <= 2000
    assert os.path.isdir(artifact.path(TOKENIZER_DIR))
    dev, _ = read_split(tiny_examples, "dev")
    # The stored weights are the selected ones: they score the reported dev score.
    assert metrics.score(dev.labels, logits_on(artifact, dev), True) == pytest.approx(results["dev_score"], abs=1e-6)


def test_tfidf_lr_is_solved_exactly_with_c_chosen_on_dev(tmp_path, tiny_examples):
    artifact = train(tmp_path, "lr", {"examples": tiny_examples})
    results = artifact.metadata["results"]
    assert results["fit"] == "exact" and results["updates"] == 0 and results["best_epoch"] is None
    assert results["C"] in (10.0, 100.0, 1000.0)
    assert CURVES_FILE not in artifact.metadata["outputs"]  # no training curve to draw
    dev, _ = read_split(tiny_examples, "dev")
    test, _ = read_split(tiny_examples, "test")
    assert metrics.score(dev.labels, logits_on(artifact, dev), True) == pytest.approx(results["dev_score"], abs=1e-6)
    assert results["dev_score"] > 80 and metrics.score(test.labels, logits_on(artifact, test), True) > 80
    gradient = train(tmp_path / "gradient", "lr", {"examples": tiny_examples}, fit="gradient")
    assert gradient.metadata["results"]["fit"] == "gradient" and gradient.metadata["results"]["updates"] == 4


def test_solves_exactly_only_the_objectives_the_exact_fit_solves():
    assert StudentTrainer.solves_exactly(dict(student="lr"))
    assert StudentTrainer.solves_exactly(dict(student="lr", distill=True, alpha=4.0))
    assert not StudentTrainer.solves_exactly(dict(student="lr", distill=True, temperature=2.0))
    assert not StudentTrainer.solves_exactly(dict(student="lr", distill=True, distillation_loss="mse"))
    assert not StudentTrainer.solves_exactly(dict(student="lr", distill=True, direction="student_teacher"))
    assert StudentTrainer.solves_exactly(dict(student="lr", temperature=2.0))  # not distilled: temperature unused
    assert not StudentTrainer.solves_exactly(dict(student="lr", fit="gradient"))
    assert not StudentTrainer.solves_exactly(dict(student="lstm"))


def test_plain_student_fingerprint_ignores_the_distillation_settings(tiny_examples):
    inputs = {"examples": tiny_examples}

    def fingerprint(**params):
        return StudentTrainer(name="s", student="lstm", **params).fingerprint(inputs)

    plain = fingerprint()
    assert fingerprint(alpha=0.25, temperature=2.0, distillation_loss="mse") == plain  # a sweep holding λ
    assert fingerprint(updates=7) != plain
    distilled = fingerprint(distill=True)
    assert fingerprint(distill=True, alpha=0.25) != distilled
    assert fingerprint(distill=True, distillation_loss="mse") != distilled
    assert fingerprint(distill=True, distillation_loss="kl") == distilled  # added later: out while at its default


def test_distilled_student_follows_the_teacher_logits(tmp_path, tiny_examples):
    # A teacher that is always wrong in the same way (it names the next label): with a large λ the distilled
    # student learns the teacher's labelling, the plain student the true one.
    teacher = stored_logits(tiny_examples, tmp_path, shift=1)
    plain = train(tmp_path, "lr", {"examples": tiny_examples})
    distilled = train(tmp_path, "lr", {"examples": teacher}, alpha=100.0)
    assert distilled.metadata["inputs"] == {"examples": teacher.uri} and distilled.metadata["parameters"]["distill"]
    test, _ = read_split(tiny_examples, "test")
    teachers_labels = np.roll(test.labels, 1, axis=1)
    plain_logits, distilled_logits = logits_on(plain, test), logits_on(distilled, test)
    assert metrics.score(test.labels, plain_logits, True) > 80 > metrics.score(teachers_labels, plain_logits, True)
    assert metrics.score(teachers_labels, distilled_logits, True) > 80 > metrics.score(test.labels, distilled_logits, True)


def test_distilled_gradient_student_trains_on_stored_logits(tmp_path, tiny_examples):
    teacher = stored_logits(tiny_examples, tmp_path)
    artifact = train(tmp_path, "lstm", {"examples": teacher}, alpha=1.0)
    results = artifact.metadata["results"]
    assert artifact.metadata["parameters"]["alpha"] == 1.0 and artifact.metadata["parameters"]["distill"]
    assert results["fit"] == "gradient" and results["updates"] == 4 and results["train_records"] == 120
    dev, _ = read_split(tiny_examples, "dev")
    assert metrics.score(dev.labels, logits_on(artifact, dev), True) == pytest.approx(results["dev_score"], abs=1e-6)


def test_distilling_without_teacher_logits_names_the_shard_and_writes_nothing(tmp_path, tiny_examples):
    with pytest.raises(DataError, match=r"Split-train/data_tfrecord-00000-of-00001\.gz: records do not match"):
        train(tmp_path, "lstm", {"examples": tiny_examples}, alpha=1.0)
    assert not RunDir(str(tmp_path)).has(student_name("lstm", seed=0, alpha=1.0))
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]


class FakeTransferSet(Component):
    """A TransferSet stand-in: the first `labeled` train documents, plus `unlabeled` new ones, with teacher logits.

    The records are written in the order `order_seed` shuffles them into (None: as listed).
    """

    SPEC = ComponentSpec(inputs=("examples",), parameters=dict(labeled=60, unlabeled=20, order_seed=None))

    def execute(self, inputs, output_dir, work_dir):
        p = self.parameters
        train, _ = read_split(inputs["examples"], "train")
        train = train.subset(np.arange(p["labeled"]))
        extra = make_docs(p["unlabeled"], seed=5)
        texts = train.texts + [text for _, text in extra]
        labels = np.concatenate([train.labels, np.zeros((len(extra), 3), np.int8)])
        logits = labels_as_logits(np.concatenate([train.labels, [[int(b) for b in bits] for bits, _ in extra]]))
        labeled = np.arange(len(texts)) < len(train)
        order = np.arange(len(texts))
        if p["order_seed"] is not None:
            np.random.default_rng(p["order_seed"]).shuffle(order)
        split = type(train)([texts[i] for i in order], labels[order], "transfer set", [], labeled=labeled[order])
        records.write_split(os.path.join(output_dir, "Split-train"), split, logits[order])
        shutil.copy(inputs["examples"].path(SCHEMA_FILE), os.path.join(output_dir, SCHEMA_FILE))
        return {}


def test_transfer_set_replaces_the_train_split(tmp_path, tiny_examples):
    teacher = stored_logits(tiny_examples, tmp_path)
    transfer = FakeTransferSet().run({"examples": tiny_examples}, str(tmp_path), log=quiet)
    # A plain student learns from the labelled records only; a distilled one from all, the teacher labelling the rest.
    plain = train(tmp_path, "lr", {"examples": tiny_examples, "transfer_set": transfer})
    distilled = train(tmp_path, "lr", {"examples": teacher, "transfer_set": transfer}, alpha=1.0)
    assert plain.metadata["results"]["train_records"] == 60 and distilled.metadata["results"]["train_records"] == 80
    assert distilled.metadata["inputs"] == {"examples": teacher.uri, "transfer_set": transfer.uri}
    # Dev still comes from `examples`: the reported score is the stored student's on the dev split.
    dev, _ = read_split(tiny_examples, "dev")
    score = metrics.score(dev.labels, logits_on(distilled, dev), True)
    assert score == pytest.approx(distilled.metadata["results"]["dev_score"], abs=1e-6)


def test_transfer_set_record_order_does_not_change_the_student(tmp_path, tiny_examples):
    # Beam writes records in an order that depends on its workers: the student must not depend on it.
    teacher = stored_logits(tiny_examples, tmp_path)
    students = []
    for order_seed in (None, 1):
        transfer = FakeTransferSet(name=f"TransferSet{order_seed}", order_seed=order_seed).run(
            {"examples": tiny_examples}, str(tmp_path), log=quiet)
        artifact = train(tmp_path / str(order_seed), "lr", {"examples": teacher, "transfer_set": transfer},
                         alpha=1.0, fit="gradient")
        students.append(load_student(artifact))
    (a, tokens_a), (b, tokens_b) = students
    assert tokens_a.vocabulary == tokens_b.vocabulary
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
