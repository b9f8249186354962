"""Evaluator: scores the teacher, every student run and the baselines on dev and test."""

import os

import numpy as np

from components.artifacts import EVALUATION_FILE, load_schema, load_student, read_split
from components.base import Component, ComponentSpec, write_json
from kdkeras import batches, metrics


def summarise(runs):
    """Mean ± std over seeds for a list of `{"dev", "test", "params"}` runs (and `dev_served`, `test_served`)."""
    row = {"params": runs[0]["params"]}
    for split in ("dev", "test"):
        values = [r[split] for r in runs]
        row[split] = float(np.mean(values))
        row[f"{split}_mean"] = float(np.mean(values))
        row[f"{split}_std"] = float(np.std(values))
        row[f"{split}_runs"] = values
        if all(f"{split}_served" in r for r in runs):
            served = [r[f"{split}_served"] for r in runs]
            row[f"{split}_served"] = float(np.mean(served))
            row[f"{split}_served_std"] = float(np.std(served))
    return row


def _scores(labels, logits, multi_label, split):
    """`{split: the paper's metric, split_served: the served label sets' metric}`."""
    return {split: metrics.score(labels, logits, multi_label),
            f"{split}_served": metrics.served_score(labels, logits, multi_label)}


class Evaluator(Component):
    """Computes the paper's metric (micro-F1 or accuracy, percent) on dev and test.

    Each score comes with the score of the label sets exported bundles serve
    (`<split>_served`, see `kdkeras.metrics.served_score`): for multi-label
    data a document with no label above 0.5 gets its most probable label.

    The teacher is scored from the logits TeacherInference stored; each
    student run is loaded from its artifact and run over the documents (once,
    however many keys name it: a distilled student with λ = 0 is its plain
    twin's artifact); runs
    of one model over several seeds are summarised as mean ± std. Baseline
    scores are taken from the Baselines artifact. Outputs `evaluation.json`:
    `{"dataset", "metric", "models": {name: {"dev", "test", "params",
    "dev_mean", "dev_std", "dev_runs", "test_mean", ...}}}`.

    Inputs:
        examples, teacher_logits, teacher: upstream artifacts.
        students: `{"<model>/seed<k>": StudentTrainer artifact}`.
        baselines: optional Baselines artifact (`{"baselines": artifact}`).
    """

    SPEC = ComponentSpec(
        inputs=("examples", "teacher_logits", "teacher", "students"),
        optional_inputs=("baselines",),
        parameters=dict(batch_size=256),
        description="dev/test scores of teacher, students and baselines",
    )

    def execute(self, inputs, output_dir, work_dir):
        schema = load_schema(inputs["examples"])
        multi_label = schema["multi_label"]
        data = {s: read_split(inputs["teacher_logits"], s, with_logits=True) for s in ("dev", "test")}
        models = {
            "teacher": {
                **{k: v for s, (split, logits) in data.items() for k, v in
                   _scores(split.labels, logits, multi_label, s).items()},
                "params": inputs["teacher"].metadata["results"]["params"],
            }
        }
        runs, scored = {}, {}  # scored: artifact folder → its run (λ = 0 makes a distilled key the plain run)
        for key, artifact in inputs["students"].items():
            folder = os.path.realpath(artifact.uri)
            run = scored.get(folder)
            if run is None:
                student, tokenizer = load_student(artifact)
                run = {}
                for s, (split, _) in data.items():
                    logits = batches.predict_logits(student, tokenizer, split.texts, self.parameters["batch_size"])
                    run.update(_scores(split.labels, logits, multi_label, s))
                run["params"] = student.count_params()
                scored[folder] = run
            runs.setdefault(key.split("/")[0], []).append(run)
        if "baselines" in inputs:
            for kind, scores in inputs["baselines"].metadata["results"].items():
                models[kind] = summarise([scores])
        for name, model_runs in runs.items():
            models[name] = summarise(model_runs)
        result = {"dataset": schema["dataset"], "metric": schema["metric"], "models": models}
        write_json(os.path.join(output_dir, EVALUATION_FILE), result)
        return result
