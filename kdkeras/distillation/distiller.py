"""The `Distiller`: trains a student on labels plus a teacher's soft outputs."""

import keras
import tensorflow as tf

from kdkeras.distillation import losses

LABELS = "labels"
TEACHER_LOGITS = "teacher_logits"
LABELED = "labeled"


def _num_replicas():
    return tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, "float32")


class Distiller(keras.Model):
    """Wraps a student model and trains it with the distillation objective.

    L = CE(labels, student) + λ · KL(teacher ‖ student)

    where CE is binary cross-entropy for multi-label data and categorical
    cross-entropy for single-label data, and the KL is `DistillationKL`.
    With `distillation_loss="mse"` the distillation term is instead the
    squared error between the logits (`LogitMSE`, Tang et al. 2019): its λ
    has another scale (logits, not probabilities), so choose it on dev
    separately.

    What λ means. Keras' BCE averages over the K labels, so by default the
    multi-label KL (a Bernoulli KL per label) is averaged over labels too:
    λ = 1 weighs every label's KL as much as its BCE, which is what the
    paper's `BCE + λ·KL` means per label whatever K is. With
    `kl_label_reduction="sum"` the per-label KLs are summed (the KL term
    is then K times heavier per label: λ = 1 there is λ = K with the mean).
    Single-label data has one distribution per example on both sides.

    Batches are `(x, y)` where `y` is either a dict
    `{"labels": ..., "teacher_logits": ...}` (teacher logits precomputed and
    carried with the data), or just the labels, in which case `teacher`
    computes the logits online from `x`. Labels are multi-hot for multi-label
    data and integer class ids for single-label data.

    Documents without labels (unlabelled text the teacher labelled) can
    share a batch with labelled ones: `y["labeled"]` (1.0 / 0.0 per example)
    weighs the CE term per example, so an unlabelled document contributes
    only `λ · KL`. Both terms stay averaged over the whole batch: over a
    transfer set the objective is `Σ_labelled CE + λ · Σ_all KL`, divided by
    the number of records.

    Under a `tf.distribute` strategy the losses are Keras `Loss` objects,
    which scale themselves by the number of replicas.

    Args:
        student: a `keras.Model` returning logits.
        teacher: optional `keras.Model` returning logits from the same `x`,
            used when batches carry no teacher logits.
        multi_label: selects BCE + Bernoulli KL (True) or CE + categorical KL.
        alpha: weight λ of the distillation term (paper: 1 multi-label,
            4 single-label). `alpha=0` trains exactly like the plain student.
        temperature: softening temperature of the KL term.
        direction: `"teacher_student"` or `"student_teacher"` KL.
        kl_label_reduction: multi-label: `"mean"` (default) or `"sum"` of
            the per-label KLs (see above).
        distillation_loss: the distillation term, `"kl"` (default) or
            `"mse"` on logits.

    Example:
    >>> distiller = Distiller(student, multi_label=True, alpha=1.0)
    >>> distiller.compile(optimizer="adam")
    >>> distiller.fit(ds.map(lambda x, y, t: (x, {"labels": y, "teacher_logits": t})))
    >>> student.predict(x_test)
    """

    def __init__(
        self,
        student,
        teacher=None,
        multi_label=True,
        alpha=1.0,
        temperature=1.0,
        direction="teacher_student",
        kl_label_reduction="mean",
        distillation_loss="kl",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.student = student
        self.teacher = teacher
        if teacher is not None:
            teacher.trainable = False
        self.multi_label = multi_label
        self.alpha = float(alpha)
        self.student_loss_fn = losses.task_loss(multi_label)
        self.distillation_loss_fn = losses.distillation_loss(
            distillation_loss, multi_label, temperature, direction, kl_label_reduction)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        if student.built:
            self.built = True

    def build(self, input_shape):
        if not self.student.built:
            self.student.build(input_shape)
        self.built = True

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def _targets(self, x, y):
        labeled = None
        if isinstance(y, dict):
            labels = y[LABELS]
            teacher_logits = y.get(TEACHER_LOGITS)
            labeled = y.get(LABELED)
        else:
            labels, teacher_logits = y, None
        if teacher_logits is None:
            if self.teacher is None:
                raise ValueError(
                    "batch carries no 'teacher_logits' and the Distiller has no teacher model"
                )
            teacher_logits = self.teacher(x, training=False)
        return labels, tf.stop_gradient(teacher_logits), labeled

    def _compute_losses(self, x, y, sample_weight, training):
        labels, teacher_logits, labeled = self._targets(x, y)
        logits = self.student(x, training=training)
        task_weight = sample_weight
        if labeled is not None:
            labeled = keras.ops.cast(labeled, logits.dtype)
            task_weight = labeled if sample_weight is None else labeled * keras.ops.cast(sample_weight, logits.dtype)
        student_loss = self.student_loss_fn(labels, logits, sample_weight=task_weight)
        kd_loss = self.distillation_loss_fn(teacher_logits, logits, sample_weight=sample_weight)
        loss = student_loss + self.alpha * kd_loss
        if self.student.losses:
            loss = loss + keras.ops.sum(self.student.losses) / _num_replicas()
        return labels, logits, loss, student_loss, kd_loss, task_weight

    def _track(self, x, labels, logits, sample_weight, loss, student_loss, kd_loss):
        # Loss objects scaled the values by 1 / replicas for the gradient; undo for logging.
        batch, replicas = tf.shape(logits)[0], _num_replicas()
        self.loss_tracker.update_state(loss * replicas, sample_weight=batch)
        self.student_loss_tracker.update_state(student_loss * replicas, sample_weight=batch)
        self.distillation_loss_tracker.update_state(kd_loss * replicas, sample_weight=batch)
        return self.compute_metrics(x, labels, logits, sample_weight)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            labels, logits, loss, student_loss, kd_loss, task_weight = self._compute_losses(x, y, sample_weight, True)
            scaled_loss = self.optimizer.scale_loss(loss)
        weights = self.student.trainable_weights
        gradients = tape.gradient(scaled_loss, weights)
        self.optimizer.apply_gradients(zip(gradients, weights))
        return self._track(x, labels, logits, task_weight, loss, student_loss, kd_loss)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        labels, logits, loss, student_loss, kd_loss, task_weight = self._compute_losses(x, y, sample_weight, False)
        return self._track(x, labels, logits, task_weight, loss, student_loss, kd_loss)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.student(x, training=False)
