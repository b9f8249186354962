"""Training loops for teachers and students: data pipelines, schedules, model selection.

Model selection follows the paper: after every epoch the model is scored on
the dev split with the task metric, and the best epoch's weights are kept.
`keras.callbacks.BackupAndRestore` makes an interrupted training resume at
the last finished epoch.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from kdkeras import metrics
from kdkeras.distillation import Distiller, task_loss

AUTOTUNE = tf.data.AUTOTUNE
STRATEGIES = ("none", "mirrored", "multiworker", "tpu")


def distribution_strategy(name=None):
    """A `tf.distribute` strategy by name.

    - `None` / `"none"`: the default (single device) strategy.
    - `"mirrored"`: `MirroredStrategy` over all local GPUs (or logical devices).
    - `"multiworker"`: `MultiWorkerMirroredStrategy`; every worker runs the same
      command with its `TF_CONFIG` environment variable set.
    - `"tpu"`: `TPUStrategy` on the TPU found by `TPUClusterResolver`.

    Build and compile models inside `strategy.scope()`; Keras `fit` then
    distributes the data and aggregates gradients.
    """
    if name in (None, "none"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown distribution strategy {name!r}; known: {', '.join(STRATEGIES)}")


@keras.saving.register_keras_serializable(package="kdkeras")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak` over `warmup_steps`, then linear decay to 0 (BERT's schedule)."""

    def __init__(self, peak, total_steps, warmup_steps):
        self.peak = float(peak)
        self.total_steps = int(max(total_steps, 1))
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = step / max(self.warmup_steps, 1)
        decay = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        return self.peak * keras.ops.clip(keras.ops.minimum(warm, decay), 0.0, 1.0)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


def targets(labels, multi_label):
    """Training targets: float bits (multi-label) or int class ids (single-label)."""
    labels = np.asarray(labels)
    return labels.astype("float32") if multi_label else labels.argmax(axis=1).astype("int32")


def prior_logits(labels, multi_label):
    """Logits of the label prior of `labels` (smoothed so unseen labels stay finite).

    Multi-label: log-odds of each label's frequency; single-label: log of the
    class frequencies.
    """
    labels = np.asarray(labels, "float64")
    counts, n = labels.sum(axis=0), len(labels)
    if multi_label:
        p = (counts + 0.5) / (n + 1.0)
        return np.log(p / (1 - p)).astype("float32")
    return np.log((counts + 0.5) / (n + 0.5 * labels.shape[1])).astype("float32")


def init_output_bias(model, labels, multi_label, layer_name="logits"):
    """Starts the output layer's bias at the label prior.

    With K labels of which ~1 is on, a zero bias predicts 0.5 everywhere and
    the first hundreds of steps only learn the prior; starting from it lets
    fine-tuning spend its few epochs on the documents.
    """
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        return False
    if getattr(layer, "bias", None) is None:
        return False
    layer.bias.assign(prior_logits(labels, multi_label))
    return True


def make_dataset(texts, y, transform, batch_size, shuffle=False, seed=0):
    """`tf.data` pipeline: (texts, y) → batched `(transform(texts), y)`.

    Args:
        texts: list of strings.
        y: targets (array or dict of arrays), or None for inference.
        transform: batched text → model inputs function (a tokenizer or
            KerasHub preprocessor).
        batch_size: batch size.
        shuffle: reshuffle every epoch with `seed`.
    """
    data = (list(texts),) if y is None else (list(texts), y)
    ds = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if y is None:
        ds = ds.map(lambda x: transform(x), num_parallel_calls=AUTOTUNE)
    else:
        ds = ds.map(lambda x, t: (transform(x), t), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


class DevSelection(keras.callbacks.Callback):
    """Scores the model on dev after each epoch and keeps the best weights.

    Logs `val_<metric>` (percent). The best weights go to
    `<checkpoint_dir>/best.weights.h5` with their score in `best.json`, so
    selection survives an interrupted and resumed training.

    Args:
        dev_ds: batched dev inputs (no targets).
        dev_labels: gold label bits of dev.
        multi_label: selects micro-F1 or accuracy.
        checkpoint_dir: folder for the best weights.
        model: the model to score and save (defaults to the trained model;
            pass the student when training a `Distiller`).
    """

    def __init__(self, dev_ds, dev_labels, multi_label, checkpoint_dir, model=None):
        super().__init__()
        self.dev_ds = dev_ds
        self.dev_labels = dev_labels
        self.multi_label = multi_label
        self.checkpoint_dir = checkpoint_dir
        self.target = model
        os.makedirs(checkpoint_dir, exist_ok=True)
        self.weights_path = os.path.join(checkpoint_dir, "best.weights.h5")
        self.state_path = os.path.join(checkpoint_dir, "best.json")

    @property
    def best(self):
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                return json.load(f)
        return {"epoch": -1, "score": -1.0}

    def on_epoch_end(self, epoch, logs=None):
        model = self.target or self.model
        logits = model.predict(self.dev_ds, verbose=0)
        value = metrics.score(self.dev_labels, logits, self.multi_label)
        name = "val_" + metrics.metric_name(self.multi_label)
        if logs is not None:
            logs[name] = value  # shown by the progress bar
        if value > self.best["score"]:
            model.save_weights(self.weights_path)
            tmp = self.state_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"epoch": epoch + 1, "score": value}, f)
            os.replace(tmp, self.state_path)

    def restore_best(self):
        """Loads the best weights into the model; returns `{"epoch", "score"}`."""
        (self.target or self.model).load_weights(self.weights_path)
        return self.best


def fit_teacher(
    teacher,
    preprocessor,
    train,
    dev,
    multi_label,
    epochs,
    batch_size=16,
    learning_rate=2e-5,
    warmup_fraction=0.1,
    weight_decay=0.01,
    seed=0,
    work_dir=None,
    jit_compile=True,
    verbose="auto",
):
    """Fine-tunes a DocBERT teacher end to end and keeps its best dev epoch.

    Args:
        teacher: a `kdkeras.models.DocBERT`.
        preprocessor: the matching `BertTextClassifierPreprocessor`.
        train, dev: `kdkeras.data.Split`s.
        multi_label: BCE + micro-F1 (True) or CE + accuracy (False).
        epochs, batch_size, learning_rate: paper recipe 30 (Reuters) / 16 / 2e-5.
        warmup_fraction: share of steps with linear warm-up.
        weight_decay: AdamW weight decay.
        seed: shuffling seed.
        work_dir: folder for backups and the best checkpoint (resumable).
        jit_compile: compile the train step with XLA.

    Returns:
        A dict with the training history and the selected epoch and dev score.
    """
    keras.utils.set_random_seed(seed)
    steps = epochs * int(np.ceil(len(train) / batch_size))
    schedule = WarmupLinearDecay(learning_rate, steps, int(warmup_fraction * steps))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    init_output_bias(teacher, train.labels, multi_label)
    teacher.compile(optimizer=optimizer, loss=task_loss(multi_label), jit_compile=jit_compile)
    train_ds = make_dataset(train.texts, targets(train.labels, multi_label), preprocessor, batch_size, True, seed)
    dev_ds = make_dataset(dev.texts, None, preprocessor, 64)
    return _fit(teacher, train_ds, dev_ds, dev.labels, multi_label, epochs, work_dir, verbose)


def _fit(model, train_ds, dev_ds, dev_labels, multi_label, epochs, work_dir, verbose, target=None, extra=()):
    selection = DevSelection(dev_ds, dev_labels, multi_label, os.path.join(work_dir, "best"), target)
    callbacks = [keras.callbacks.BackupAndRestore(os.path.join(work_dir, "backup"))]
    callbacks += list(extra) + [selection]
    history = model.fit(train_ds, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False)
    best = selection.restore_best()
    return {
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "best_epoch": best["epoch"],
        "dev_score": best["score"],
    }


def fit_student(
    student,
    tokenizer,
    train,
    dev,
    multi_label,
    epochs,
    batch_size,
    optimizer,
    teacher_logits=None,
    alpha=1.0,
    temperature=1.0,
    direction="teacher_student",
    seed=0,
    work_dir=None,
    ema=False,
    verbose="auto",
):
    """Trains a student on labels, or distils it when `teacher_logits` are given.

    Args:
        student: a Keras model mapping token ids to logits.
        tokenizer: a `kdkeras.text.WordTokenizer`.
        train, dev: `kdkeras.data.Split`s.
        multi_label: BCE (True) or CE (False) on the labels.
        epochs, batch_size: training length and batch size.
        optimizer: a Keras optimizer (with `use_ema=True` when `ema`).
        teacher_logits: train-split teacher logits; None trains without KD.
        alpha, temperature, direction: see `kdkeras.distillation.Distiller`.
        seed: shuffling and initialisation seed.
        work_dir: folder for backups and the best checkpoint.
        ema: evaluate and keep the optimizer's averaged weights.

    Returns:
        A dict with the history and the selected epoch and dev score.
    """
    keras.utils.set_random_seed(seed)
    init_output_bias(student, train.labels, multi_label)
    y = targets(train.labels, multi_label)
    if teacher_logits is None:
        model = student
        model.compile(optimizer=optimizer, loss=task_loss(multi_label))
    else:
        model = Distiller(student, multi_label=multi_label, alpha=alpha, temperature=temperature, direction=direction)
        model.compile(optimizer=optimizer)
        y = {"labels": y, "teacher_logits": np.asarray(teacher_logits, "float32")}
    train_ds = make_dataset(train.texts, y, tokenizer, batch_size, True, seed)
    dev_ds = make_dataset(dev.texts, None, tokenizer, 256)
    extra = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema else []
    return _fit(model, train_ds, dev_ds, dev.labels, multi_label, epochs, work_dir, verbose, student, extra)


def predict_logits(model, transform, texts, batch_size=64, verbose=0):
    """Logits of `model` for raw `texts`, batched through `transform`."""
    return model.predict(make_dataset(texts, None, transform, batch_size), verbose=verbose)
