"""TeacherTrainer: a tiny DocBERT trained through the component, saved, reloaded and selected by dev score."""

import json

import numpy as np
import pytest

from components.artifacts import (
    CURVES_FILE, HISTORY_FILE, PREPROCESSOR_DIR, TEACHER_MODEL_FILE, load_teacher, read_split,
)
from components.teacher_trainer import TeacherTrainer
from kdkeras import batches, metrics, windows
from tests.helpers import quiet, smoke_settings


def dev_score_of(artifact, examples):
    model, preprocessor = load_teacher(artifact)
    dev, _ = read_split(examples, "dev")
    return metrics.score(dev.labels, batches.predict_logits(model, preprocessor, dev.texts), True)


def test_writes_a_teacher_that_reloads_with_the_dev_score_it_reports(tiny_examples, tiny_teacher):
    meta = tiny_teacher.metadata
    assert meta["component"] == "TeacherTrainer" and meta["inputs"] == {"examples": tiny_examples.uri}
    for name in (TEACHER_MODEL_FILE, HISTORY_FILE, CURVES_FILE):
        assert name in meta["outputs"]
    assert any(path.startswith(PREPROCESSOR_DIR + "/") for path in meta["outputs"])
    results = meta["results"]
    assert results["best_epoch"] == 1 and 0 <= results["dev_score"] <= 100
    with open(tiny_teacher.path(HISTORY_FILE)) as f:
        history = json.load(f)
    assert history["dev_score"] == results["dev_score"] and history["best_epoch"] == 1
    assert len(history["history"]["loss"]) == 1 and history["history"]["val_micro_f1"] == [results["dev_score"]]
    model, preprocessor = load_teacher(tiny_teacher)
    assert not isinstance(model, windows.WindowedClassifier)  # windows=1: the plain, truncating teacher
    assert model.count_params() == results["params"] > 0
    assert preprocessor.sequence_length == smoke_settings()["sequence_length"]
    assert dev_score_of(tiny_teacher, tiny_examples) == pytest.approx(results["dev_score"], abs=1e-6)


@pytest.mark.slow  # three teacher epochs
def test_keeps_the_best_dev_epoch(tmp_path, tiny_examples):
    settings = {**smoke_settings(), "epochs": 3}
    teacher = TeacherTrainer(**settings).run({"examples": tiny_examples}, str(tmp_path), log=quiet)
    results = teacher.metadata["results"]
    with open(teacher.path(HISTORY_FILE)) as f:
        scores = json.load(f)["history"]["val_micro_f1"]
    assert len(scores) == 3
    assert results["best_epoch"] == int(np.argmax(scores)) + 1 and results["dev_score"] == max(scores)
    assert dev_score_of(teacher, tiny_examples) == pytest.approx(max(scores), abs=1e-6)  # not the last epoch's


def test_reused_until_its_parameters_change(tiny_examples, tiny_teacher):
    import os

    lines = []
    again = TeacherTrainer(**smoke_settings()).run({"examples": tiny_examples}, os.path.dirname(tiny_teacher.uri),
                                                   log=lines.append)
    assert again.uri == tiny_teacher.uri and any("up to date" in line for line in lines)
    base = TeacherTrainer(**smoke_settings()).fingerprint({"examples": tiny_examples})
    assert base == tiny_teacher.fingerprint
    for change in (dict(epochs=2), dict(sequence_length=16), dict(seed=1), dict(windows=2), dict(backbone_dropout=0.0),
                   dict(freeze_embeddings=True), dict(frozen_layers=1)):
        assert TeacherTrainer(**{**smoke_settings(), **change}).fingerprint({"examples": tiny_examples}) != base
    # The checkpoint's dropout (None) keeps the fingerprint teachers had before the option existed.
    assert "backbone_dropout" not in TeacherTrainer(**smoke_settings()).fingerprint_parameters()
    assert not {"freeze_embeddings", "frozen_layers"} & set(TeacherTrainer(**smoke_settings()).fingerprint_parameters())
    # Caching the frozen bottom changes the teacher (no dropout below the trained layers) only when there is one.
    frozen = {**smoke_settings(), "freeze_embeddings": True, "frozen_layers": 1}
    assert "cache_frozen" not in TeacherTrainer(**smoke_settings()).fingerprint_parameters()
    assert "cache_frozen" not in TeacherTrainer(**frozen, cache_frozen=False).fingerprint_parameters()
    assert "cache_frozen" not in TeacherTrainer(**frozen, windows=2).fingerprint_parameters()
    assert TeacherTrainer(**frozen).fingerprint_parameters()["cache_frozen"] is True  # on by default


def test_backbone_dropout_reaches_the_trained_teacher(tmp_path, tiny_examples):
    teacher = TeacherTrainer(**smoke_settings(), backbone_dropout=0.0).run({"examples": tiny_examples}, str(tmp_path),
                                                                          log=quiet)
    model, _ = load_teacher(teacher)
    assert model.backbone.get_config()["dropout"] == 0.0


@pytest.mark.parametrize("cache", [False, True])
def test_frozen_parts_of_the_backbone_keep_their_pretrained_weights(tmp_path, tiny_examples, cache):
    from kdkeras.models import load_backbone

    settings = smoke_settings()
    lines = []
    teacher = TeacherTrainer(**settings, freeze_embeddings=True, frozen_layers=1, cache_frozen=cache).run(
        {"examples": tiny_examples}, str(tmp_path), log=lines.append)
    assert any("caching the hidden states after 1 frozen layers" in line for line in lines) == cache
    assert teacher.metadata["results"]["cached_layers"] == int(cache)
    trained = load_teacher(teacher)[0].backbone
    train, _ = read_split(tiny_examples, "train")
    initial, _ = load_backbone("tiny", settings["sequence_length"], train_texts=train.texts, seed=settings.get("seed", 0))
    same = lambda name: all(np.array_equal(a, b) for a, b in zip(  # noqa: E731
        trained.get_layer(name).get_weights(), initial.get_layer(name).get_weights()))
    assert same("token_embedding") and same("position_embedding") and same("transformer_layer_0")
    assert not same("transformer_layer_1")  # the tiny backbone's top layer trained
    with pytest.raises(ValueError, match="between 0 and the backbone's 2, got 3"):
        TeacherTrainer(**settings, frozen_layers=3).run({"examples": tiny_examples}, str(tmp_path / "x"), log=quiet)
