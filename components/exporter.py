"""Exporter: writes a student as a SavedModel that serves raw text."""

import os

from components.base import Component, ComponentSpec
from components.example_gen import load_schema
from components.student_trainer import load_student
from kdkeras import export


class Exporter(Component):
    """Exports each student to `<student>/saved_model/` (raw strings → probabilities)."""

    SPEC = ComponentSpec(
        inputs=("examples", "students"),
        parameters=dict(),
        description="SavedModels for serving",
    )

    def execute(self, inputs, output_dir, work_dir):
        multi_label = load_schema(inputs["examples"])["multi_label"]
        exported = {}
        for name, artifact in inputs["students"].items():
            student, tokenizer = load_student(artifact)
            path = os.path.join(output_dir, name, "saved_model")
            export.export_saved_model(student, tokenizer, multi_label, path)
            exported[name] = os.path.relpath(path, output_dir)
        return {"saved_models": exported}
