"""Knowledge-distillation losses: KL divergence, or squared error, between teacher and student outputs."""

import keras
from keras import ops

DIRECTIONS = ("teacher_student", "student_teacher")
LABEL_REDUCTIONS = ("mean", "sum")
DISTILLATION_LOSSES = ("kl", "mse")


def task_loss(multi_label):
    """The supervised loss on logits: BCE (multi-label) or sparse CE (single-label)."""
    if multi_label:
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@keras.saving.register_keras_serializable(package="kdkeras")
class DistillationKL(keras.losses.Loss):
    """KL divergence between softened teacher and student distributions.

    Single-label: KL between the softmax distributions over the K classes.
    Multi-label: each label is a Bernoulli variable over {on, off}; the KL is
    taken per label and averaged over labels (`label_reduction="mean"`), the
    way `keras.losses.BinaryCrossentropy` averages the label term, so that in
    `BCE + λ·KL` one unit of λ weighs a label's KL as much as its BCE. With
    `label_reduction="sum"` the per-label KLs are summed instead: the KL term
    is then K times heavier per label than the BCE term (90× on Reuters).

    With temperature T both logits are divided by T and the loss is
    multiplied by T² (Hinton et al. 2015), so gradients keep their scale.

    Args:
        multi_label: Bernoulli-per-label KL (True) or categorical KL (False).
        temperature: softening temperature T.
        direction: `"teacher_student"` computes KL(teacher ‖ student)
            (Hinton's, default); `"student_teacher"` computes
            KL(student ‖ teacher), as written in the DocBERT-KD paper.
        label_reduction: multi-label only: `"mean"` (default) or `"sum"` of
            the per-label Bernoulli KLs.

    Call arguments:
        y_true: teacher logits, shape `(batch, K)`.
        y_pred: student logits, shape `(batch, K)`.

    Example:
    >>> kd = DistillationKL(multi_label=True, temperature=2.0)
    >>> loss = kd(teacher_logits, student_logits)
    """

    def __init__(self, multi_label, temperature=1.0, direction="teacher_student", label_reduction="mean",
                 name="distillation_kl", **kwargs):
        super().__init__(name=name, **kwargs)
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        if label_reduction not in LABEL_REDUCTIONS:
            raise ValueError(f"label_reduction must be one of {LABEL_REDUCTIONS}, got {label_reduction!r}")
        self.label_reduction = label_reduction
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.multi_label = multi_label
        self.temperature = float(temperature)
        self.direction = direction

    def call(self, y_true, y_pred):
        t = ops.cast(y_true, "float32") / self.temperature
        s = ops.cast(y_pred, "float32") / self.temperature
        p, q = (t, s) if self.direction == "teacher_student" else (s, t)
        if self.multi_label:
            # log-probabilities of "on" and "off" for each label, from logits.
            log_p1, log_p0 = ops.log_sigmoid(p), ops.log_sigmoid(-p)
            log_q1, log_q0 = ops.log_sigmoid(q), ops.log_sigmoid(-q)
            kl = ops.exp(log_p1) * (log_p1 - log_q1) + ops.exp(log_p0) * (log_p0 - log_q0)
            reduce = ops.mean if self.label_reduction == "mean" else ops.sum
            return reduce(kl, axis=-1) * (self.temperature**2)
        log_p, log_q = ops.log_softmax(p, axis=-1), ops.log_softmax(q, axis=-1)
        return ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1) * (self.temperature**2)

    def get_config(self):
        config = super().get_config()
        config.update(multi_label=self.multi_label, temperature=self.temperature, direction=self.direction,
                      label_reduction=self.label_reduction)
        return config


@keras.saving.register_keras_serializable(package="kdkeras")
class LogitMSE(keras.losses.Loss):
    """Squared error between teacher and student logits (Tang et al. 2019).

    The objective of "Distilling Task-Specific Knowledge from BERT into
    Simple Neural Networks", whose augmentation the transfer set follows:
    the student regresses the teacher's logits instead of matching its
    probabilities. Unlike the KL, whose gradient per label is
    `σ(s) − σ(t)` and vanishes where both are confident, its gradient
    `s − t` keeps teaching how far from a label's boundary the teacher
    puts a document.

    Multi-label: the mean over labels of `(s − t)²` (sigmoids are not
    shift-invariant, so raw logits). Single-label: softmax ignores a shift
    of all logits, so both sides are centred (mean over classes removed)
    first, and the loss is the mean over classes of the squared difference.

    Args:
        multi_label: raw (True) or centred (False) logits.

    Call arguments:
        y_true: teacher logits, shape `(batch, K)`.
        y_pred: student logits, shape `(batch, K)`.

    Example:
    >>> loss = LogitMSE(multi_label=True)(teacher_logits, student_logits)
    """

    def __init__(self, multi_label, name="logit_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.multi_label = multi_label

    def call(self, y_true, y_pred):
        t, s = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
        if not self.multi_label:
            t = t - ops.mean(t, axis=-1, keepdims=True)
            s = s - ops.mean(s, axis=-1, keepdims=True)
        return ops.mean(ops.square(s - t), axis=-1)

    def get_config(self):
        return {**super().get_config(), "multi_label": self.multi_label}


def distillation_loss(kind, multi_label, temperature=1.0, direction="teacher_student", label_reduction="mean"):
    """The distillation term: `"kl"` (`DistillationKL`) or `"mse"` (`LogitMSE`).

    Args:
        kind: `"kl"` or `"mse"`.
        multi_label: see the two losses.
        temperature, direction, label_reduction: the KL's settings; the
            squared error on logits takes only their defaults.

    Example:
    >>> kd = distillation_loss("mse", multi_label=True)
    """
    if kind not in DISTILLATION_LOSSES:
        raise ValueError(f"distillation loss must be one of {DISTILLATION_LOSSES}, got {kind!r}")
    if kind == "kl":
        return DistillationKL(multi_label, temperature, direction, label_reduction)
    if (temperature, direction, label_reduction) != (1.0, "teacher_student", "mean"):
        raise ValueError("the squared error on logits has no temperature, direction or label reduction; "
                         "leave them at 1, 'teacher_student' and 'mean'")
    return LogitMSE(multi_label)
