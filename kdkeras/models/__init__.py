"""Teacher and student models.

Every student is registered in `STUDENTS` with the same construction API:
`build(vocabulary_size, num_classes, **hyperparameters)` returns a Keras
model mapping features to logits, where the features are word ids
(`"int"`) or a tf-idf vector (`"tf_idf"`), both made by
`kdkeras.text.WordTokenizer`. Adding a student is one module plus one entry.
"""

import dataclasses

import keras

from kdkeras.models.backbones import load_backbone
from kdkeras.models.boe import boe_optimizer, build_boe
from kdkeras.models.docbert import DocBERT
from kdkeras.models.kimcnn import build_kimcnn, kimcnn_optimizer
from kdkeras.models.reg_lstm import build_reg_lstm, reg_lstm_optimizer
from kdkeras.models.tfidf_lr import build_tfidf_lr, fit_tfidf_lr, tfidf_lr_optimizer


@dataclasses.dataclass(frozen=True)
class StudentSpec:
    """How to build and train one kind of student.

    Args:
        build: `(vocabulary_size, num_classes, **hparams) -> keras.Model`.
        optimizer: `(learning_rate, **kwargs) -> keras.optimizers.Optimizer`.
        features: the `kdkeras.text.WordTokenizer` output mode: `"int"`
            (word ids) or `"tf_idf"`.
        ema: evaluate and keep temporally averaged weights.
        word_vectors: the model takes initial word vectors (`embeddings=`).
        exact_fit: optional `(model, tokenizer, train, dev, multi_label, *,
            teacher_logits, alpha, seed, log) -> dict` that solves the
            training objective exactly (convex students), used instead of
            gradient updates when the objective allows it.
    """

    build: object
    optimizer: object
    features: str = "int"
    ema: bool = False
    word_vectors: bool = True
    exact_fit: object = None


STUDENTS = {
    "lstm": StudentSpec(build_reg_lstm, reg_lstm_optimizer, "int", ema=True),
    "kimcnn": StudentSpec(build_kimcnn, kimcnn_optimizer, "int"),
    "lr": StudentSpec(build_tfidf_lr, tfidf_lr_optimizer, "tf_idf", word_vectors=False, exact_fit=fit_tfidf_lr),
    "boe": StudentSpec(build_boe, boe_optimizer, "int"),
}


def get_student(name):
    """The `StudentSpec` registered as `name`."""
    if name not in STUDENTS:
        raise ValueError(f"unknown student {name!r}; known: {', '.join(STUDENTS)}")
    return STUDENTS[name]


def build_student(name, vocabulary_size, num_classes, **hyperparameters):
    """Builds the student `name` (`kdkeras.names.STUDENTS`) with the shared construction API.

    Example:
    >>> model = build_student("kimcnn", vocabulary_size=20000, num_classes=90)
    """
    return get_student(name).build(vocabulary_size, num_classes, **hyperparameters)


class ModelLoadError(ValueError):
    """A saved model that cannot be loaded safely; the message names the file."""


def load_model(path, *, jit_compile=False):
    """Loads a `.keras` model (teacher or student) without running code stored in it.

    Keras `safe_mode=True` is always on: a file whose config would make
    Keras run Python code (a `Lambda` layer holding a lambda or function
    bytecode) is refused. Models are not compiled (they are used for
    inference or recompiled).

    Args:
        path: a `.keras` file (local, or any path TensorFlow's file system reads).
        jit_compile: run `predict` / `predict_on_batch` through XLA (Keras
            leaves it off on CPU). The teacher's inference uses it: the same
            logits up to float rounding, in less time; each input shape
            compiles once.

    Returns:
        The `keras.Model`.

    Raises:
        ModelLoadError: the file is missing, not a `.keras` archive, or unsafe.

    Example:
    >>> student = load_model("saved_models/reuters/quick/StudentTrainer.kd_lstm.seed0/student.keras")
    """
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except ValueError as e:
        message = " ".join(str(e).split())
        if "Lambda" in message or "safe_mode" in message or "unsafe" in message:
            raise ModelLoadError(
                f"{path}: refused to load: the model holds Python code (e.g. a Lambda layer) that Keras "
                "safe_mode does not run; kdkeras models never need it"
            ) from None
        raise ModelLoadError(f"{path}: cannot load the Keras model ({message[:300]})") from None
    model.jit_compile = jit_compile
    return model


__all__ = [
    "DocBERT", "ModelLoadError", "STUDENTS", "StudentSpec", "boe_optimizer", "build_boe", "build_kimcnn",
    "build_reg_lstm", "build_student", "build_tfidf_lr", "fit_tfidf_lr", "get_student", "kimcnn_optimizer",
    "load_backbone", "load_model", "reg_lstm_optimizer", "tfidf_lr_optimizer",
]
