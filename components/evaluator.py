"""Evaluator: scores the teacher and every student on dev and test."""

import os

from components.base import Component, ComponentSpec, write_json
from components.example_gen import load_schema, read_split
from components.student_trainer import load_student
from kdkeras import metrics, training


class Evaluator(Component):
    """Computes the paper's metric (micro-F1 or accuracy, percent) on dev and test.

    The teacher is scored from the logits TeacherInference stored; each
    student is loaded from its artifact and run over the documents.
    Outputs `evaluation.json`: `{model: {"dev", "test", "params"}}`.
    """

    SPEC = ComponentSpec(
        inputs=("examples", "teacher_logits", "teacher", "students"),
        parameters=dict(batch_size=256),
        description="dev/test scores of teacher and students",
    )

    def execute(self, inputs, output_dir, work_dir):
        schema = load_schema(inputs["examples"])
        multi_label = schema["multi_label"]
        data = {s: read_split(inputs["teacher_logits"], s, with_logits=True) for s in ("dev", "test")}
        models = {
            "teacher": {
                **{s: metrics.score(split.labels, logits, multi_label) for s, (split, logits) in data.items()},
                "params": inputs["teacher"].metadata["results"]["params"],
            }
        }
        for name, artifact in inputs["students"].items():
            student, tokenizer = load_student(artifact)
            models[name] = {
                s: metrics.score(
                    split.labels,
                    training.predict_logits(student, tokenizer, split.texts, self.parameters["batch_size"]),
                    multi_label,
                )
                for s, (split, _) in data.items()
            }
            models[name]["params"] = student.count_params()
        result = {"dataset": schema["dataset"], "metric": schema["metric"], "models": models}
        write_json(os.path.join(output_dir, "evaluation.json"), result)
        return result
