"""The pipeline checks the teacher against the plain students and baselines before distilling."""

from pipelines.pipeline import choose_alpha, format_report, teacher_check
from pipelines.results import distillation_gaps, table2


class _Artifact:
    def __init__(self, **results):
        self.metadata = {"results": results}


def test_a_teacher_worse_than_a_student_is_reported():
    trained = {"lstm/seed0": _Artifact(dev_score=72.0), "lstm/seed1": _Artifact(dev_score=74.0),
               "lr/seed0": _Artifact(dev_score=60.0)}
    baselines = _Artifact(svm={"dev": 75.0, "test": 1.0}, sklearn_lr={"dev": 65.0, "test": 1.0})
    check = teacher_check(70.0, trained, baselines, ["lstm", "lr"])
    assert check["dev"] == {"lstm": 73.0, "lr": 60.0, "svm": 75.0, "sklearn_lr": 65.0}
    assert check["not_below_teacher"] == ["lstm", "svm"] and check["below_teacher"] == ["lr", "sklearn_lr"]
    assert "not above lstm, svm" in check["warning"] and "includes 0" in check["warning"]
    assert check["lines"][-1].startswith("[teacher check] warning:")
    # The printed table carries the warning and each distilled student's λ.
    row = {"dev": 1.0, "test": 2.0, "params": 3}
    report = {"dataset": "d", "profile": "p", "metric": "micro_f1", "models": {"lstm": row, "kd_lstm": row},
              "teacher_check": check, "distillation": {"kd_lstm": {"alpha": 0.0}}}
    text = format_report(report)
    assert "λ=0" in text and text.splitlines()[-1] == f"warning: {check['warning']}"


def test_a_teacher_above_everything_gives_no_warning():
    check = teacher_check(90.0, {"lstm/seed0": _Artifact(dev_score=80.0)}, None, ["lstm"])
    assert check["warning"] is None and check["not_below_teacher"] == [] and len(check["lines"]) == 1


def test_report_shows_the_served_score_for_multi_label_data():
    report = {"dataset": "toy", "profile": "smoke", "metric": "micro_f1", "models": {
        "teacher": {"dev": 80.0, "test": 78.0, "params": 10, "test_served": 79.5},
        "svm": {"dev": 81.0, "test": 77.0, "params": 5}}}
    lines = format_report(report).splitlines()
    assert lines[1].endswith("test (served)")
    assert lines[2].split()[-1] == "79.50" and lines[3].split()[-1] == "5"
    single = dict(report, metric="accuracy")
    assert "served" not in format_report(single)


def test_report_shows_the_share_of_the_gap_distillation_closes():
    rows = {"teacher": {"dev": 90.0, "test": 89.0}, "lstm": {"dev": 80.0, "test": 81.0},
            "kd_lstm": {"dev": 85.0, "test": 83.0}, "lr": {"dev": 91.0, "test": 85.0}, "kd_lr": {"dev": 91.0, "test": 90.0}}
    assert distillation_gaps(rows, "lstm") == {"dev": 0.5, "test": 0.25}
    assert distillation_gaps(rows, "lr") == {"dev": None, "test": 1.25}  # teacher below the plain LR on dev
    assert distillation_gaps(rows, "kimcnn") == {}
    models = {name: dict(row, params=1) for name, row in rows.items()}
    report = {"dataset": "d", "profile": "p", "metric": "accuracy", "models": models, "distillation": {
        "kd_lstm": {"alpha": 4.0, "gap_closed": distillation_gaps(rows, "lstm")},
        "kd_lr": {"alpha": 1.0, "gap_closed": distillation_gaps(rows, "lr")}}}
    assert format_report(report).splitlines()[-1] == (
        "gap to the teacher closed by distillation (dev / test): kd_lstm 50 % / 25 %, kd_lr — / past the teacher")
    page = table2({"dataset": "d", "metric": "accuracy", "models": models})
    assert "closed by distillation, dev / test: KD-LR — / past the teacher, KD-LSTM 50 % / 25 %." in page


def test_lambda_is_chosen_on_the_mean_dev_score_over_seeds():
    # Seed 0 favours λ = 0.25, the mean over seeds does not: the plain student is kept.
    assert choose_alpha({0.0: [89.5, 89.5, 89.5], 0.25: [90.0, 89.0, 88.9], 1.0: [88.0, 88.0, 88.0]}) == (
        0.0, {0.0: 89.5, 0.25: 89.3, 1.0: 88.0})
    assert choose_alpha({0.0: [88.5], 0.25: [89.0], 1.0: [89.0]})[0] == 0.25  # ties: the smaller λ
    assert choose_alpha({0.0: [88.0, 88.0], 4.0: [88.0, 88.0]})[0] == 0.0
