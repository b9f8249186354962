"""Evaluator: teacher, student runs (mean ± std over seeds) and baselines scored on dev and test."""

import numpy as np
import pytest

from components.artifacts import EVALUATION_FILE, load_student, read_json, read_split, student_name
from components.evaluator import Evaluator, summarise
from components.student_trainer import StudentTrainer
from kdkeras import batches, metrics
from tests.helpers import fake_artifact, quiet, smoke_settings, stored_logits


def test_summarise_is_mean_and_std_over_runs():
    row = summarise([{"dev": 80.0, "test": 70.0, "params": 5}, {"dev": 84.0, "test": 71.0, "params": 5}])
    expected = {"params": 5, "dev": 82.0, "dev_mean": 82.0, "dev_std": 2.0, "dev_runs": [80.0, 84.0],
                "test": 70.5, "test_mean": 70.5, "test_std": 0.5, "test_runs": [70.0, 71.0]}
    assert {k: row.get(k) for k in expected} == expected


@pytest.fixture(scope="module")
def upstream(tmp_path_factory, tiny_examples):
    root = tmp_path_factory.mktemp("evaluator")
    teacher_logits = stored_logits(tiny_examples, root)  # a teacher that is always right
    teacher = fake_artifact(str(root / "TeacherTrainer"), {"params": 1234})
    students = {}
    for seed in (0, 1):  # gradient fits: the seeds give different students
        students[f"lr/seed{seed}"] = StudentTrainer(
            name=student_name("lr", seed=seed), student="lr", seed=seed, **{**smoke_settings("lr"), "fit": "gradient"},
        ).run({"examples": tiny_examples}, str(root), log=quiet)
    baselines = fake_artifact(str(root / "Baselines"), {"svm": {"dev": 81.0, "test": 79.0, "C": 1.0, "params": 99}})
    return root, {"examples": tiny_examples, "teacher_logits": teacher_logits, "teacher": teacher,
                  "students": students, "baselines": baselines}


def test_scores_teacher_students_and_baselines(tmp_path, upstream):
    _, inputs = upstream
    artifact = Evaluator().run(inputs, str(tmp_path), log=quiet)
    result = read_json(artifact, EVALUATION_FILE)
    assert artifact.metadata["results"] == result
    assert result["dataset"] == "custom" and result["metric"] == "micro_f1"
    assert set(result["models"]) == {"teacher", "lr", "svm"}
    teacher = result["models"]["teacher"]
    assert (teacher["dev"], teacher["test"], teacher["params"]) == (100.0, 100.0, 1234)
    svm = result["models"]["svm"]  # one run: its scores, std 0
    assert (svm["dev"], svm["dev_runs"], svm["dev_std"], svm["test"], svm["test_runs"], svm["params"]) == (
        81.0, [81.0], 0.0, 79.0, [79.0], 99)
    lr = result["models"]["lr"]
    splits = {s: read_split(inputs["examples"], s)[0] for s in ("dev", "test")}
    runs = {"dev": [], "test": []}
    for key in ("lr/seed0", "lr/seed1"):
        student, tokenizer = load_student(inputs["students"][key])
        for s, split in splits.items():
            runs[s].append(metrics.score(split.labels, batches.predict_logits(student, tokenizer, split.texts), True))
        assert lr["params"] == student.count_params()
    # The StudentTrainer's dev score (the one it selected its weights by) is the Evaluator's.
    assert runs["dev"] == pytest.approx([inputs["students"][k].metadata["results"]["dev_score"]
                                         for k in ("lr/seed0", "lr/seed1")], abs=1e-6)
    for s in ("dev", "test"):
        assert lr[f"{s}_runs"] == pytest.approx(runs[s])
        assert lr[s] == lr[f"{s}_mean"] == pytest.approx(np.mean(runs[s]))
        assert lr[f"{s}_std"] == pytest.approx(np.std(runs[s]))


def test_baselines_are_optional(tmp_path, upstream):
    _, inputs = upstream
    inputs = {k: v for k, v in inputs.items() if k != "baselines"}
    result = Evaluator().run(inputs, str(tmp_path), log=quiet).metadata["results"]
    assert set(result["models"]) == {"teacher", "lr"}
    with pytest.raises(TypeError, match="missing inputs \\['teacher'\\]"):
        Evaluator().run({k: v for k, v in inputs.items() if k != "teacher"}, str(tmp_path / "x"), log=quiet)


def test_an_artifact_named_twice_is_scored_once(tmp_path, upstream, monkeypatch):
    # λ = 0 chosen on dev: the distilled student's key names the plain student's artifact.
    _, inputs = upstream
    plain = inputs["students"]["lr/seed0"]
    calls = []
    predict = batches.predict_logits
    monkeypatch.setattr(batches, "predict_logits", lambda *a, **k: calls.append(1) or predict(*a, **k))
    students = {"lr/seed0": plain, "kd_lr/seed0": plain}
    result = Evaluator().run({**inputs, "students": students}, str(tmp_path), log=quiet).metadata["results"]
    assert len(calls) == 2  # dev and test, once
    for split in ("dev", "test"):
        assert result["models"]["kd_lr"][f"{split}_runs"] == result["models"]["lr"][f"{split}_runs"]
