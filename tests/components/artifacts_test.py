import ast
import os

import pytest

import components
from components import artifacts
from components.artifacts import RunDir, student_name
from components.base import Component, ComponentSpec

COMPONENTS_DIR = os.path.dirname(components.__file__)
SHARED = {"components.base", "components.artifacts", "components.lock"}


def _component_imports(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("components"):
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("components"))


def test_no_component_imports_another_component():
    sideways = []
    for name in sorted(os.listdir(COMPONENTS_DIR)):
        if name.endswith(".py"):
            for module in _component_imports(os.path.join(COMPONENTS_DIR, name)):
                if module not in SHARED:
                    sideways.append(f"{name}: {module}")
    assert sideways == []


def test_run_dir_folder_names_are_the_component_class_names():
    from components.baselines import Baselines
    from components.evaluator import Evaluator
    from components.example_gen import ExampleGen
    from components.exporter import Exporter
    from components.teacher_inference import TeacherInference
    from components.teacher_trainer import TeacherTrainer
    from components.transfer_set import TransferSet

    assert [artifacts.EXAMPLE_GEN, artifacts.TEACHER_TRAINER, artifacts.TEACHER_INFERENCE, artifacts.TRANSFER_SET,
            artifacts.BASELINES, artifacts.EVALUATOR, artifacts.EXPORTER] == [
        c.__name__ for c in (ExampleGen, TeacherTrainer, TeacherInference, TransferSet, Baselines, Evaluator, Exporter)]


def test_student_names():
    assert student_name("lstm", seed=2) == "StudentTrainer.lstm.seed2"
    assert student_name("lstm", seed=0, alpha=1.0) == "StudentTrainer.kd_lstm.alpha1.seed0"
    assert student_name("lr", seed=1, alpha=0.5, tag="C4") == "StudentTrainer.kd_lr.alpha0.5.C4.seed1"


class _Writes(Component):
    SPEC = ComponentSpec(parameters=dict(value=1))

    def execute(self, inputs, output_dir, work_dir):
        with open(os.path.join(output_dir, artifacts.BASELINE_SCORES_FILE), "w") as f:
            f.write('{"svm": %d}' % self.parameters["value"])
        return {}


def test_run_dir_finds_finished_artifacts_and_names_missing_ones(tmp_path):
    run = RunDir(str(tmp_path))
    assert not run.has(artifacts.BASELINES)
    with pytest.raises(FileNotFoundError, match="Baselines: not a finished pipeline artifact"):
        run.baselines
    _Writes(name=artifacts.BASELINES, value=7).run({}, str(tmp_path), log=lambda line: None)
    assert run.has(artifacts.BASELINES)
    assert artifacts.read_json(run.baselines, artifacts.BASELINE_SCORES_FILE) == {"svm": 7}
    with pytest.raises(FileNotFoundError, match="report.json"):
        run.report()


def test_the_teacher_runs_through_xla_as_it_was_trained():
    class _Teacher:
        def __init__(self, parameters):
            self.metadata = {"parameters": parameters}

    assert artifacts.teacher_jit_compile(_Teacher({"jit_compile": True}))
    assert not artifacts.teacher_jit_compile(_Teacher({"jit_compile": False}))  # the smoke profile's tiny teacher
    assert artifacts.teacher_jit_compile(_Teacher({}))  # artifacts written before the parameter existed
