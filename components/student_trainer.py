"""StudentTrainer: trains a student with or without knowledge distillation."""

import dataclasses
import os

import keras
import numpy as np

from components.artifacts import CURVES_FILE, HISTORY_FILE, STUDENT_MODEL_FILE, TOKENIZER_DIR, load_schema, read_split
from components.base import REQUIRED, Component, ComponentSpec, write_json
from kdkeras import embeddings, models, plots, training
from kdkeras.text import WordTokenizer



# Parameters of the distillation objective (unused by a plain student).
DISTILLATION_KEYS = ("alpha", "temperature", "direction", "kl_label_reduction", "distillation_loss")


class StudentTrainer(Component):
    """Trains `student` on the train split; distils from stored teacher logits when `distill`.

    Inputs: `examples` (ExampleGen, or TeacherInference when distilling) and
    optionally `transfer_set` (a TransferSet artifact: its records replace
    the train split; dev still comes from `examples`). Transfer-set records
    without labels (unlabelled text) train the distilled student on the
    distillation term only.

    Outputs `student.keras` (token ids → logits), `tokenizer/` (vocabulary
    and settings), `history.json` and `training.png`.

    Parameters:
        student: student name (`kdkeras.names.STUDENTS`).
        distill: train with the Distiller on `teacher_logits` (input must be
            a TeacherInference artifact) instead of labels only.
        alpha, temperature, direction, kl_label_reduction,
            distillation_loss: distillation objective (see
            `kdkeras.distillation.Distiller`; `distillation_loss` "kl" or
            "mse" on logits).
        updates: optimizer updates in the whole training (the same for a
            plain student and its distilled twin, whatever the size of the
            transfer set).
        evaluations: dev evaluations, evenly spaced; the best is kept.
        batch_size, learning_rate, seed: training recipe.
        max_tokens, sequence_length: word vocabulary and truncation.
        hparams: student hyperparameters (e.g. hidden_dim, embedding_dim).
        word_vectors: initial word vectors: "random", "teacher", "lsa" or a
            word2vec/GloVe file (students with embeddings only).
        ema_momentum: temporal averaging of weights for students that use it
            (0 disables).
        distribute: tf.distribute strategy name (None, "mirrored", ...).
        fit: "auto" solves convex students (the tf-idf LR) exactly, with
            their L2 strength chosen on dev, when the objective allows it
            (temperature 1, teacher ‖ student KL averaged over labels);
            "gradient" always trains with `updates` optimizer steps.
    """

    SPEC = ComponentSpec(
        inputs=("examples",),
        optional_inputs=("transfer_set",),
        parameters=dict(
            student=REQUIRED, distill=False, alpha=1.0, temperature=1.0, direction="teacher_student",
            kl_label_reduction="mean", updates=1000, evaluations=10, batch_size=128, learning_rate=1e-3, seed=0,
            max_tokens=50000,
            sequence_length=400, hparams={}, word_vectors="random", ema_momentum=0.99, distribute=None,
            fit="auto", distillation_loss="kl",
        ),
        description="trained student",
        added_parameters=("distillation_loss",),
    )

    def fingerprint_parameters(self):
        # A plain student never reads the distillation settings: at their defaults in its fingerprint, so a plain
        # run made by a sweep that holds λ at some value is the pipeline's plain run, and the other way round.
        params = super().fingerprint_parameters()
        if not params["distill"]:
            for key in DISTILLATION_KEYS:
                if key in self.SPEC.added_parameters:
                    params.pop(key, None)
                else:
                    params[key] = self.SPEC.parameters[key]
        return params

    @classmethod
    def solves_exactly(cls, parameters):
        """Whether a run with `parameters` is an exact (convex, seed-free) fit rather than gradient updates.

        True for students with an `exact_fit` when `fit="auto"` and the
        objective is one the fit solves: labels only, or distillation at
        temperature 1 with the teacher ‖ student KL averaged over labels
        (not the squared error on logits).
        """
        p = {**{k: v for k, v in cls.SPEC.parameters.items() if v is not REQUIRED}, **parameters}
        return models.get_student(p["student"]).exact_fit is not None and p["fit"] == "auto" and (not p["distill"] or (
            p["distillation_loss"] == "kl" and p["temperature"] == 1 and p["direction"] == "teacher_student"
            and p["kl_label_reduction"] == "mean"))

    def execute(self, inputs, output_dir, work_dir):
        p = self.parameters
        schema = load_schema(inputs["examples"])
        # The transfer set (augmented train split with teacher logits) replaces train when given.
        train, teacher_logits = read_split(inputs.get("transfer_set", inputs["examples"]), "train",
                                           with_logits=p["distill"])
        if "transfer_set" in inputs:
            train, teacher_logits = _in_text_order(train, teacher_logits)
        if train.labeled is not None and not p["distill"]:  # a plain student learns from labelled documents only
            train = dataclasses.replace(train.subset(np.flatnonzero(train.labeled)), labeled=None)
        dev, _ = read_split(inputs["examples"], "dev")
        spec = models.get_student(p["student"])
        tokenizer = WordTokenizer.adapt(train.texts, p["max_tokens"], p["sequence_length"], spec.features)
        hparams = dict(p["hparams"])
        if spec.word_vectors:
            vectors = embeddings.word_vectors(
                p["word_vectors"], tokenizer.vocabulary, train.texts, hparams.get("embedding_dim", 300), p["seed"]
            )
            hparams.update(embeddings=vectors, embedding_dim=vectors.shape[1])
        else:
            for key in ("embedding_dim", "embeddings"):
                hparams.pop(key, None)
        keras.utils.set_random_seed(p["seed"])
        with training.distribution_strategy(p["distribute"]).scope():
            student = spec.build(tokenizer.vocabulary_size, schema["num_classes"], seed=p["seed"], **hparams)
            ema = spec.ema and p["ema_momentum"] > 0
            exact = self.solves_exactly(p)
            if exact:
                result = spec.exact_fit(student, tokenizer, train, dev, schema["multi_label"],
                                        teacher_logits=teacher_logits, alpha=p["alpha"] if p["distill"] else 0.0,
                                        seed=p["seed"], log=self.log)
                result = {**result, "history": {}, "best_epoch": None, "updates": 0, "fit": "exact"}
            else:
                optimizer = spec.optimizer(
                    learning_rate=p["learning_rate"], ema_momentum=p["ema_momentum"] or 0.99, use_ema=ema,
                    updates=p["updates"],
                )
                result = training.fit_student(
                    student, tokenizer, train, dev, schema["multi_label"], updates=p["updates"],
                    evaluations=p["evaluations"], batch_size=p["batch_size"], optimizer=optimizer,
                    teacher_logits=teacher_logits, alpha=p["alpha"], temperature=p["temperature"],
                    direction=p["direction"], kl_label_reduction=p["kl_label_reduction"],
                    distillation_loss=p["distillation_loss"], labeled=train.labeled if p["distill"] else None,
                    seed=p["seed"], work_dir=work_dir, ema=ema,
                )
        student.save(os.path.join(output_dir, STUDENT_MODEL_FILE))
        tokenizer.save(os.path.join(output_dir, TOKENIZER_DIR))
        write_json(os.path.join(output_dir, HISTORY_FILE), result)
        if result["history"]:
            plots.training_curves(result, os.path.join(output_dir, CURVES_FILE), self.name)
        return {"best_epoch": result["best_epoch"], "dev_score": result["dev_score"], "params": student.count_params(),
                "updates": result["updates"], "train_records": len(train.texts), "fit": "exact" if exact else "gradient",
                **({"C": result["C"]} if exact else {})}


def _in_text_order(split, logits):
    """The records sorted by text (unique in a transfer set).

    Beam writes them in an order that depends on its workers; the student's
    vocabulary and batches must not.
    """
    order = np.asarray(sorted(range(len(split.texts)), key=split.texts.__getitem__), dtype=np.int64)
    return split.subset(order), None if logits is None else logits[order]
