"""Exporter: a serving bundle per student (SavedModel on raw text, TFLite, assets, model card)."""

import json
import os

import numpy as np
import pytest

from components.artifacts import (
    FORMATS, FORMATS_FILE, MODEL_CARD_FILE, load_student, read_split, student_name,
)
from components.exporter import Exporter
from components.student_trainer import StudentTrainer
from kdkeras import batches, metrics, predict
from tests.helpers import fake_artifact, quiet, smoke_settings


@pytest.fixture(scope="module")
def student(tmp_path_factory, tiny_examples):
    """An exactly fitted tf-idf LR student (seconds to train)."""
    root = tmp_path_factory.mktemp("exporter")
    return StudentTrainer(name=student_name("lr", seed=0), student="lr", **smoke_settings("lr")).run(
        {"examples": tiny_examples}, str(root), log=quiet)


def keras_logits(artifact, texts):
    model, tokenizer = load_student(artifact)
    return batches.predict_logits(model, tokenizer, texts)


def test_saved_model_bundle_serves_the_students_probabilities(tmp_path, tiny_examples, student):
    import tensorflow as tf

    evaluation = fake_artifact(str(tmp_path / "Evaluator"), {"models": {"kd_lr": {
        "test_runs": [70.0, 72.0], "test_mean": 71.0, "test_std": 1.0, "dev_runs": [80.0, 82.0], "dev_mean": 81.0,
        "dev_std": 1.0}}})
    artifact = Exporter(tflite=False, max_docs=20, latency_docs=3).run(
        {"examples": tiny_examples, "students": {"kd_lr": student}, "evaluation": evaluation}, str(tmp_path), log=quiet)
    assert artifact.metadata["results"]["saved_models"] == {"kd_lr": os.path.join("kd_lr", FORMATS["saved_model"])}
    bundle = artifact.path("kd_lr")
    for name in (FORMATS["saved_model"], FORMATS_FILE, MODEL_CARD_FILE, predict.LABELS_FILE, predict.TOKENIZER_DIR):
        assert os.path.exists(os.path.join(bundle, name)), name
    assert not os.path.exists(os.path.join(bundle, FORMATS["tflite"]))
    with open(os.path.join(bundle, predict.LABELS_FILE)) as f:
        assert f.read().split() == ["grain", "oil", "money"]
    test, _ = read_split(tiny_examples, "test")
    logits = keras_logits(student, test.texts)
    # The SavedModel takes raw strings and returns the Keras student's sigmoid probabilities.
    served = tf.saved_model.load(os.path.join(bundle, FORMATS["saved_model"]))
    probs = served.signatures["serving_default"](texts=tf.constant(test.texts))["probabilities"].numpy()
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), atol=1e-5)
    with open(os.path.join(bundle, FORMATS_FILE)) as f:
        rows = json.load(f)
    assert set(rows) == {"keras", "saved_model"} and rows == artifact.metadata["results"]["formats"]["kd_lr"]
    full = metrics.score(test.labels, logits, True)
    assert rows["keras"]["test_all"] == pytest.approx(full) and rows["keras"]["test_documents"] == 30
    assert rows["keras"]["test"] == pytest.approx(metrics.score(test.labels[:20], logits[:20], True))
    assert rows["saved_model"]["agreement_with_keras"] == 1.0 and rows["saved_model"]["max_abs_diff"] < 1e-5
    assert rows["saved_model"]["file"] == FORMATS["saved_model"] and rows["saved_model"]["bytes"] > 0
    # The card leads with the whole test split's score, the dev score the student was selected by, and the seeds.
    with open(os.path.join(bundle, MODEL_CARD_FILE)) as f:
        card = f.read()
    dev = student.metadata["results"]["dev_score"]
    assert card.startswith("# Model card: kd_lr (custom)")
    assert f"**Test micro_f1: {full:.2f} %** on all 30 test documents (this model, Keras); dev {dev:.2f} %" in card
    assert "over 2 seeds: test 71.00 ± 1.00" in card and "solved exactly" in card
    assert "grain, oil, money" in card


@pytest.mark.slow  # TFLite conversion and quantisation: tens of seconds on a busy machine
def test_tflite_formats_agree_with_keras(tmp_path, tiny_examples, student):
    artifact = Exporter(max_docs=20, latency_docs=3).run({"examples": tiny_examples, "students": {"lr": student}},
                                                         str(tmp_path), log=quiet)
    bundle = artifact.path("lr")
    with open(os.path.join(bundle, FORMATS_FILE)) as f:
        rows = json.load(f)
    assert set(rows) == {"keras", "saved_model", "tflite", "tflite_int8", "tflite_full_int8"}
    test, _ = read_split(tiny_examples, "test")
    logits = keras_logits(student, test.texts[:20])
    for fmt in ("tflite", "tflite_int8"):
        path = os.path.join(bundle, FORMATS[fmt])
        assert rows[fmt]["bytes"] == os.path.getsize(path) > 0 and rows[fmt]["latency_ms_batch1_1thread"] > 0
        probs = predict.Predictor.load(path, num_threads=1).predict_proba(test.texts[:20])
        assert rows[fmt]["max_abs_diff"] == pytest.approx(float(np.abs(probs - 1 / (1 + np.exp(-logits))).max()),
                                                          abs=1e-6)
    assert rows["tflite"]["agreement_with_keras"] >= 0.99 and rows["tflite"]["max_abs_diff"] < 1e-4
    full = rows["tflite_full_int8"]  # kept only when it agrees with Keras on enough documents
    assert os.path.exists(os.path.join(bundle, FORMATS["tflite_full_int8"])) == ("skipped" not in full)
    with open(os.path.join(bundle, MODEL_CARD_FILE)) as f:
        card = f.read()
    assert "| tflite | model.tflite |" in card and "| tflite_int8 | model_int8.tflite |" in card
    assert "Trained on the labels only, on the train split" in card  # not a distilled student


@pytest.mark.slow  # TFLite conversion and quantisation
def test_a_quantised_file_that_fails_at_run_time_is_skipped(tmp_path, tiny_examples, student, monkeypatch):
    load = predict.Predictor.load

    def failing_int8(path, **kwargs):
        if path.endswith(FORMATS["tflite_int8"]):
            raise RuntimeError("tflite/kernels/div.cc:262 data[i] != zero_point was not true.\nmore")
        return load(path, **kwargs)

    monkeypatch.setattr(predict.Predictor, "load", staticmethod(failing_int8))
    lines = []
    artifact = Exporter(max_docs=20, latency_docs=3).run({"examples": tiny_examples, "students": {"lr": student}},
                                                         str(tmp_path), log=lines.append)
    rows = artifact.metadata["results"]["formats"]["lr"]
    assert rows["tflite_int8"] == {"skipped": "fails at run time: tflite/kernels/div.cc:262 data[i] != "
                                                   "zero_point was not true."}
    assert not os.path.exists(os.path.join(artifact.path("lr"), FORMATS["tflite_int8"]))
    assert rows["tflite"]["agreement_with_keras"] >= 0.99
    assert any("tflite_int8: skipped, fails at run time" in line for line in lines)
