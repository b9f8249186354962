"""The distillation pipeline: ExampleGen → TeacherTrainer → TeacherInference →
StudentTrainer (plain and distilled) → Evaluator → Exporter."""

import os
import shutil

from components.base import write_json
from components.evaluator import Evaluator
from components.example_gen import ExampleGen
from components.exporter import Exporter
from components.student_trainer import StudentTrainer
from components.teacher_inference import TeacherInference
from components.teacher_trainer import TeacherTrainer

REPORT_FILE = "report.json"


def run_pipeline(dataset, config, output_dir="saved_models", data_dir=None, run_id=None,
                 multi_label=None, force=False, log=print):
    """Runs the whole job and writes `report.json` in the run directory.

    Args:
        dataset: dataset name.
        config: from `pipelines.configs.build_config`.
        output_dir: root of all runs.
        data_dir: dataset folder (None: the vendored copy).
        run_id: run directory name (default: the profile name).
        multi_label: override the dataset's task type (custom data).
        force: recompute every component.

    Returns:
        `(report, run_dir)`.
    """
    run_dir = os.path.join(output_dir, dataset, run_id or config["profile"])
    created = not os.path.exists(run_dir)
    try:
        examples = ExampleGen(
            dataset=dataset, data_dir=data_dir, multi_label=multi_label, max_docs=config["max_docs"]
        ).run({}, run_dir, force, log)
    except Exception:
        if created:  # nothing of this run exists yet: leave nothing behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    teacher = TeacherTrainer(seed=config["seed"], **config["teacher"]).run({"examples": examples}, run_dir, force, log)
    logits = TeacherInference().run({"examples": examples, "teacher": teacher}, run_dir, force, log)
    students = {}
    for name, distill, source in (("lstm", False, examples), ("kd_lstm", True, logits)):
        students[name] = StudentTrainer(
            name=f"StudentTrainer.{name}", student="lstm", distill=distill, alpha=config["alpha"],
            temperature=config["temperature"], seed=config["seed"], **config["student"],
        ).run({"examples": source}, run_dir, force, log)
    evaluation = Evaluator().run(
        {"examples": examples, "teacher_logits": logits, "teacher": teacher, "students": students},
        run_dir, force, log,
    )
    Exporter().run({"examples": examples, "students": {"kd_lstm": students["kd_lstm"]}}, run_dir, force, log)
    results = evaluation.metadata["results"]
    report = {
        "dataset": dataset,
        "metric": results["metric"],
        "profile": config["profile"],
        "models": results["models"],
        "config": config,
    }
    write_json(os.path.join(run_dir, REPORT_FILE), report)
    return report, run_dir


def format_report(report):
    """A Table-2-style text table of the report."""
    metric = report["metric"]
    lines = [
        f"{report['dataset']} ({report['profile']} profile), {metric} in %",
        f"{'model':<10} {'dev':>7} {'test':>7} {'params':>12}",
    ]
    for name, row in report["models"].items():
        lines.append(f"{name:<10} {row['dev']:7.2f} {row['test']:7.2f} {row['params']:12,d}")
    return "\n".join(lines)
