"""Artifact layout: the files each component writes, their readers, and the run directory.

Every component writes one artifact directory (see `components.base`). This
module is the single place that knows what is inside them, so a component
reads another's output through these helpers instead of importing that
component (TFX's `path_utils` / `artifact_utils` play the same role), and
pipelines and benchmarks find artifacts through `RunDir` instead of joining
folder names by hand.

Example:
>>> run = RunDir("saved_models/reuters/quick")
>>> test, _ = read_split(run.examples, "test")
>>> student, tokenizer = load_student(run.student("kd_lstm", seed=0, alpha=1))
"""

import json
import os

from components.base import METADATA_FILE, Artifact

# Artifact folders of a run (each component's default instance name: its class name).
EXAMPLE_GEN = "ExampleGen"
TEACHER_TRAINER = "TeacherTrainer"
TEACHER_INFERENCE = "TeacherInference"
TRANSFER_SET = "TransferSet"
BASELINES = "Baselines"
EVALUATOR = "Evaluator"
EXPORTER = "Exporter"

# Files inside artifacts, by the component that writes them.
SCHEMA_FILE = "schema.json"  # ExampleGen, TeacherInference
TEACHER_MODEL_FILE = "teacher.keras"  # TeacherTrainer
PREPROCESSOR_DIR = "preprocessor"  # TeacherTrainer
STUDENT_MODEL_FILE = "student.keras"  # StudentTrainer
TOKENIZER_DIR = "tokenizer"  # StudentTrainer
HISTORY_FILE = "history.json"  # TeacherTrainer, StudentTrainer
CURVES_FILE = "training.png"  # TeacherTrainer, StudentTrainer
TEACHER_SCORES_FILE = "teacher_scores.json"  # TeacherInference
TRANSFER_SET_FILE = "transfer_set.json"  # TransferSet
BASELINE_SCORES_FILE = "scores.json"  # Baselines
EVALUATION_FILE = "evaluation.json"  # Evaluator
FORMATS = {"saved_model": "saved_model", "tflite": "model.tflite", "tflite_int8": "model_int8.tflite",
           "tflite_full_int8": "model_full_int8.tflite"}  # Exporter, per bundle
FORMATS_FILE = "formats.json"  # Exporter, per bundle
MODEL_CARD_FILE = "model_card.md"  # Exporter, per bundle
PUSH_FILE = "push.json"  # Pusher
REPORT_FILE = "report.json"  # the run directory (pipelines.pipeline)


def student_name(student, *, seed, alpha=None, tag=None):
    """The StudentTrainer instance (and folder) name of one student run.

    Args:
        student: `lstm`, `kimcnn`, ... (`kd_` is added when `alpha` is given).
        seed: the run's seed.
        alpha: λ of a distilled run; None for a plain student.
        tag: an extra part for sweeps (e.g. `hidden_dim256`).

    Example:
    >>> student_name("lstm", seed=0, alpha=4)
    'StudentTrainer.kd_lstm.alpha4.seed0'
    """
    parts = ["StudentTrainer", student if alpha is None else f"kd_{student}"]
    if alpha is not None:
        parts.append(f"alpha{alpha:g}")
    if tag:
        parts.append(tag)
    return ".".join(parts + [f"seed{seed}"])


class RunDir:
    """A pipeline run directory: one artifact folder per component run.

    Args:
        path: the run directory (`<output_dir>/<dataset>/<run_id>`).
    """

    def __init__(self, path):
        self.path = path

    def artifact(self, name):
        """The finished artifact `name`; `FileNotFoundError` naming the folder if it is not there."""
        return Artifact(os.path.join(self.path, name))

    def has(self, name):
        """Whether a finished artifact `name` exists."""
        return os.path.exists(os.path.join(self.path, name, METADATA_FILE))

    def file(self, *parts):
        return os.path.join(self.path, *parts)

    @property
    def examples(self):
        return self.artifact(EXAMPLE_GEN)

    @property
    def teacher(self):
        return self.artifact(TEACHER_TRAINER)

    @property
    def teacher_logits(self):
        return self.artifact(TEACHER_INFERENCE)

    @property
    def transfer_set(self):
        return self.artifact(TRANSFER_SET)

    @property
    def baselines(self):
        return self.artifact(BASELINES)

    @property
    def evaluation(self):
        return self.artifact(EVALUATOR)

    @property
    def exports(self):
        return self.artifact(EXPORTER)

    def student(self, student, *, seed, alpha=None, tag=None):
        """A StudentTrainer artifact (see `student_name`)."""
        return self.artifact(student_name(student, seed=seed, alpha=alpha, tag=tag))

    def report(self):
        """The run's `report.json` as a dict."""
        with open(self.file(REPORT_FILE)) as f:
            return json.load(f)

    def __repr__(self):
        return f"RunDir({self.path!r})"


def load_schema(artifact):
    """The schema dict an ExampleGen (or TeacherInference) artifact carries."""
    with open(artifact.path(SCHEMA_FILE)) as f:
        return json.load(f)


def split_folder(split):
    """Folder of one split inside an examples artifact: `"train"` → `"Split-train"` (TFX's naming)."""
    return f"Split-{split}"


def has_split(artifact, split):
    """Whether an examples artifact holds `split` (e.g. `"unlabeled"`, written only when there was such text)."""
    return os.path.isdir(artifact.path(split_folder(split)))


def read_split(artifact, split, with_logits=False):
    """One split of an ExampleGen / TeacherInference / TransferSet artifact, in memory.

    Returns:
        `(split, logits)` as `kdkeras.data.examples.read_split` (logits None
        unless `with_logits`).
    """
    from kdkeras.data import examples

    return examples.read_split(artifact.path(split_folder(split)), load_schema(artifact)["num_classes"], with_logits)


def read_json(artifact, name):
    """A JSON file of an artifact (e.g. `BASELINE_SCORES_FILE`)."""
    with open(artifact.path(name)) as f:
        return json.load(f)


def teacher_jit_compile(artifact):
    """Whether the teacher of a TeacherTrainer artifact runs through XLA: as it was trained (default yes)."""
    return bool(artifact.metadata.get("parameters", {}).get("jit_compile", True))


def load_teacher(artifact, sequence_length=None):
    """`(teacher, preprocessor)` from a TeacherTrainer artifact (windowed when it was trained so).

    `sequence_length`: word pieces it reads instead of its training length (see `kdkeras.windows.load`)."""
    from kdkeras import models, windows

    # Keras safe_mode: never runs stored code.
    teacher = models.load_model(artifact.path(TEACHER_MODEL_FILE), jit_compile=teacher_jit_compile(artifact))
    return windows.load(teacher, artifact.path(PREPROCESSOR_DIR), sequence_length)


def load_student(artifact):
    """`(student, tokenizer)` from a StudentTrainer artifact."""
    from kdkeras import models
    from kdkeras.text import WordTokenizer

    student = models.load_model(artifact.path(STUDENT_MODEL_FILE))  # Keras safe_mode: never runs stored code
    return student, WordTokenizer.load(artifact.path(TOKENIZER_DIR))
