"""Training loops for teachers and students: data pipelines, schedules, model selection.

Model selection follows the paper: after every epoch the model is scored on
the dev split with the task metric, and the best epoch's weights are kept.
`EpochBackup` makes an interrupted training resume at the last finished
epoch, with the same result as an uninterrupted one (see `_fit`).
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from kdkeras import buckets, metrics
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
    model = getattr(model, "classifier", model)  # a WindowedClassifier's inner model
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        return False
    if getattr(layer, "bias", None) is None:
        return False
    layer.bias.assign(prior_logits(labels, multi_label))
    return True


def make_dataset(texts, transform, batch_size):
    """`tf.data` pipeline for inference: texts → batched `transform(texts)`, in order.

    Training uses `make_training_dataset` (a fixed order per epoch).

    Args:
        texts: list of strings.
        transform: batched text → model inputs function (a tokenizer or
            KerasHub preprocessor).
        batch_size: batch size.
    """
    ds = tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size)
    return ds.map(transform, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def steps_per_epoch(n, batch_size):
    """Batches in one epoch of `n` examples (the last one may be smaller)."""
    return int(np.ceil(n / batch_size))


class EpochOrder(keras.callbacks.Callback):
    """The order of the training examples in each epoch, a function of `(seed, epoch)` alone.

    Whatever epoch a training starts at, epoch `e` gets the same examples in
    the same order, so a training resumed at epoch `e` sees the same batches
    as an uninterrupted one (a `reshuffle_each_iteration` shuffle would
    instead start its sequence of orders again). A callback: `fit` tells it
    the epoch before it reads the epoch's data.

    Without `steps`, an epoch is one pass over the data in the permutation
    seeded with `(seed, epoch)`. With `steps`, an epoch is a fixed number of
    batches (an evaluation period of a training measured in updates): the
    stream of examples is the concatenation of the permutations seeded with
    `(seed, 0)`, `(seed, 1)`, ... (one per pass over the data), and epoch `e`
    takes its `steps * batch_size` examples from position
    `e * steps * batch_size` on.

    Args:
        n: number of training examples.
        seed: shuffling seed.
        steps: batches per epoch (None: one pass over the data).
        batch_size: batch size (needed with `steps`).
    """

    def __init__(self, n, seed=0, steps=None, batch_size=None):
        super().__init__()
        if steps is not None and not batch_size:
            raise ValueError("EpochOrder with steps needs batch_size")
        self.n, self.seed, self.steps, self.batch_size, self.epoch = n, seed, steps, batch_size, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _pass(self, index):
        return np.random.default_rng([self.seed, index]).permutation(self.n)

    def permutation(self, epoch=None):
        """The example indices of `epoch` (default: the current one), in training order."""
        epoch = self.epoch if epoch is None else epoch
        if self.steps is None:
            return self._pass(epoch)
        size = self.steps * self.batch_size
        start = epoch * size
        first, last = start // self.n, (start + size - 1) // self.n
        stream = np.concatenate([self._pass(i) for i in range(first, last + 1)])
        offset = start - first * self.n
        return stream[offset:offset + size]

    def __call__(self):  # the generator of one epoch's order, read when Keras starts the epoch's iterator
        yield self.permutation()


def make_training_dataset(texts, y, transform, batch_size, seed=0, steps=None):
    """`tf.data` pipeline for `fit` with a fixed order per epoch; returns `(dataset, callback)`.

    Pass the callback (an `EpochOrder`) to `fit`: it sets the epoch whose
    order the next iteration of the dataset follows (Keras starts one
    iteration per epoch, after `on_epoch_begin`). Without `steps` each
    iteration is one pass over the data, ending with its partial batch, as
    with a plain shuffled dataset; with `steps` it is `steps` full batches
    (see `EpochOrder`). The order comes from a Python generator: the input
    pipeline runs on the host.

    Args:
        texts: list of strings.
        y: targets (array or dict of arrays).
        transform: batched text → model inputs function.
        batch_size: batch size.
        seed: shuffling seed.
        steps: batches per epoch (None: one pass over the data).
    """
    n = len(texts)
    order = EpochOrder(n, seed, steps, batch_size)
    texts = tf.constant(list(texts))
    y = tf.nest.map_structure(tf.convert_to_tensor, y)

    def gather(indices):
        return transform(tf.gather(texts, indices)), tf.nest.map_structure(lambda t: tf.gather(t, indices), y)

    size = n if steps is None else steps * batch_size
    cardinality = steps_per_epoch(n, batch_size) if steps is None else steps
    ds = tf.data.Dataset.from_generator(order, output_signature=tf.TensorSpec([size], tf.int64)).unbatch()
    ds = ds.batch(batch_size).apply(tf.data.experimental.assert_cardinality(cardinality))
    return ds.map(gather, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE), order


def _write_json_atomically(path, obj):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def _read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def _remove_except(directory, prefix, keep):
    for name in os.listdir(directory):
        if name.startswith(prefix) and name not in keep:
            os.remove(os.path.join(directory, name))


def _unsaved_state(model):
    """Variables `save_weights` leaves out: chiefly the random seed generators' states (dropout masks)."""
    saved = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in saved]


class EpochBackup(keras.callbacks.Callback):
    """Backs up the training state after every epoch; a new `fit` resumes from it.

    Unlike `keras.callbacks.BackupAndRestore`, the backup

    - survives a kill at any moment: each epoch goes to new files
      (`epoch<N>.weights.h5` with model and optimizer, `epoch<N>.npz` with
      the state of the random seed generators, which `save_weights` leaves
      out), and `state.json`, replaced atomically last, names the epoch to
      resume from;
    - makes a resumed training identical to an uninterrupted one: with the
      seed generators restored, the resumed epochs draw the same dropout
      masks (and `EpochOrder` gives them the same batches);
    - keeps the logs of finished epochs, so the history of a resumed
      training is complete (`self.history`).

    Put it after callbacks that write into the epoch logs (`DevSelection`),
    and pass `initial_epoch=backup.initial_epoch` to `fit`. The backup is
    kept at the end of training (the caller deletes the folder when the
    result is safely stored), so a kill after the last epoch does not
    retrain.

    Args:
        backup_dir: folder of the backup.
    """

    def __init__(self, backup_dir):
        super().__init__()
        self.backup_dir = backup_dir
        self.state_path = os.path.join(backup_dir, "state.json")
        self.state = _read_json(self.state_path)
        self.history = dict(self.state["history"]) if self.state else {}

    @property
    def initial_epoch(self):
        """The number of finished epochs in the backup (0: none)."""
        return self.state["epoch"] if self.state else 0

    def on_train_begin(self, logs=None):
        if not self.state:
            return
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(self.backup_dir, self.state["weights"]))
        with np.load(os.path.join(self.backup_dir, self.state["generators"])) as saved:
            for i, variable in enumerate(_unsaved_state(model)):
                variable.assign(saved[f"v{i}"])

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch{epoch + 1}"
        weights, generators = f"{name}.weights.h5", f"{name}.npz"
        self.model.save_weights(os.path.join(self.backup_dir, weights), overwrite=True)
        np.savez(os.path.join(self.backup_dir, generators),
                 **{f"v{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(_unsaved_state(self.model))})
        self.state = {"epoch": epoch + 1, "weights": weights, "generators": generators, "history": self.history}
        _write_json_atomically(self.state_path, self.state)
        _remove_except(self.backup_dir, "epoch", {weights, generators})


class DevSelection(keras.callbacks.Callback):
    """Scores the model on dev after each epoch and keeps the best weights.

    Logs `val_<metric>` (percent). The best weights go to
    `<checkpoint_dir>/best-epoch<N>.weights.h5`, named with their score in
    `best.json` (replaced atomically after the weights are written), so
    selection survives an interrupted and resumed training.

    Args:
        dev_ds: batched dev inputs (no targets).
        dev_labels: gold label bits of dev.
        multi_label: selects micro-F1 or accuracy.
        checkpoint_dir: folder for the best weights.
        model: the model to score and save (defaults to the trained model;
            pass the student when training a `Distiller`).
        ema: score (and keep) the optimizer's moving averages of the
            weights instead of the weights: they are swapped in for the
            scoring and swapped back, so training goes on with its own.
    """

    def __init__(self, dev_ds, dev_labels, multi_label, checkpoint_dir, model=None, ema=False):
        super().__init__()
        self.dev_ds = dev_ds
        self.dev_labels = dev_labels
        self.multi_label = multi_label
        self.checkpoint_dir = checkpoint_dir
        self.target = model
        self.ema = keras.callbacks.SwapEMAWeights() if ema else None
        os.makedirs(checkpoint_dir, exist_ok=True)
        self.state_path = os.path.join(checkpoint_dir, "best.json")

    def set_model(self, model):
        super().set_model(model)
        if self.ema is not None:
            self.ema.set_model(model)

    @property
    def best(self):
        return _read_json(self.state_path, {"epoch": -1, "score": -1.0})

    def on_epoch_end(self, epoch, logs=None):
        model = self.target or self.model
        if self.ema is not None:
            self.ema.on_test_begin()  # the averaged weights into the model
        try:
            logits = model.predict(self.dev_ds, verbose=0)
            value = metrics.score(self.dev_labels, logits, self.multi_label)
            if value > self.best["score"]:
                weights = f"best-epoch{epoch + 1}.weights.h5"
                model.save_weights(os.path.join(self.checkpoint_dir, weights), overwrite=True)
                _write_json_atomically(self.state_path, {"epoch": epoch + 1, "score": value, "weights": weights})
                _remove_except(self.checkpoint_dir, "best-epoch", {weights})
        finally:
            if self.ema is not None:
                self.ema.on_test_end()  # and the trained ones back
        name = "val_" + metrics.metric_name(self.multi_label)
        if logs is not None:
            logs[name] = value  # shown by the progress bar

    def restore_best(self):
        """Loads the best weights into the model; returns `{"epoch", "score"}`."""
        best = self.best
        (self.target or self.model).load_weights(os.path.join(self.checkpoint_dir, best["weights"]))
        return {"epoch": best["epoch"], "score": best["score"]}


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
    length_buckets=True,
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
        length_buckets: tokenise once and cut each batch to its longest
            document, batching documents of similar length together
            (`kdkeras.buckets`); the preprocessor's full length otherwise.
            Windowed preprocessors always use full windows.

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
    y = targets(train.labels, multi_label)
    if length_buckets and buckets.supports(preprocessor):  # tokenised once, batches cut to their longest document
        train_data = buckets.BucketedEpochs(buckets.encode(train.texts, preprocessor), y, batch_size, seed)
        dev_ds, order = buckets.inference_dataset(buckets.encode(dev.texts, preprocessor), 64)
        dev_labels = np.asarray(dev.labels)[order]
    else:
        train_data = (train.texts, y, preprocessor, batch_size, seed)
        dev_ds, dev_labels = make_dataset(dev.texts, preprocessor, 64), dev.labels
    return _fit(teacher, train_data, dev_ds, dev_labels, multi_label, epochs, work_dir, verbose)


def _fit(model, train_data, dev_ds, dev_labels, multi_label, epochs, work_dir, verbose, target=None, ema=False,
         steps=None):
    """`model.fit` with dev selection, resuming from the backup in `work_dir`.

    A training interrupted at any point and started again gives the same
    weights, history and selection as an uninterrupted one (on the same
    machine): epoch `e` always has the same batches (`EpochOrder`),
    the backup restores weights, optimizer and seed generators, and the dev
    score of an epoch is stored before its backup (a kill in between
    retrains that epoch identically and scores it again).

    Args:
        train_data: `(texts, y, transform, batch_size, seed)` of `make_training_dataset`, or a
            `kdkeras.buckets.BucketedEpochs`.
        epochs: number of epochs (with `steps`: evaluation periods).
        steps: batches per epoch (None: one pass over the data).
    """
    selection = DevSelection(dev_ds, dev_labels, multi_label, os.path.join(work_dir, "best"),
                             model if target is None else target, ema)
    backup = EpochBackup(os.path.join(work_dir, "backup"))
    first = backup.initial_epoch
    if first < epochs:
        if isinstance(train_data, buckets.BucketedEpochs):
            train_ds, order = train_data.dataset(), train_data
        else:
            texts, y, transform, batch_size, seed = train_data
            train_ds, order = make_training_dataset(texts, y, transform, batch_size, seed, steps)
        model.fit(train_ds, epochs=epochs, initial_epoch=first, callbacks=[order, selection, backup], verbose=verbose,
                  shuffle=False)
    elif model.optimizer is not None and not model.optimizer.built:
        # Every epoch is in the backup (stopped before the result was stored): nothing left to train. The
        # best weights hold optimizer variables too: build it as `fit` would so that they load quietly.
        model.optimizer.build(model.trainable_variables)
    best = selection.restore_best()
    return {"history": backup.history, "best_epoch": best["epoch"], "dev_score": best["score"]}


def update_budget(updates, evaluations=10):
    """`(steps, periods)`: a training of `updates` optimizer updates scored on dev `evaluations` times.

    The updates are split into `periods` evaluation periods of `steps`
    batches each (`steps * periods` is `updates` rounded up to a multiple
    of `steps`).

    Example:
    >>> update_budget(1000, 8)
    (125, 8)
    """
    if updates < 1 or evaluations < 1:
        raise ValueError(f"updates and evaluations must be positive, got {updates} and {evaluations}")
    steps = max(1, int(round(updates / min(evaluations, updates))))
    return steps, int(np.ceil(updates / steps))


def fit_student(
    student,
    tokenizer,
    train,
    dev,
    multi_label,
    *,
    updates,
    batch_size,
    optimizer,
    evaluations=10,
    teacher_logits=None,
    alpha=1.0,
    temperature=1.0,
    direction="teacher_student",
    kl_label_reduction="mean",
    labeled=None,
    seed=0,
    work_dir=None,
    ema=False,
    verbose="auto",
):
    """Trains a student on labels, or distils it when `teacher_logits` are given.

    The length of a training is a number of optimizer updates, not epochs:
    a student distilled on a transfer set three times the size of the train
    split takes as many updates as its plain twin, so the two are compared
    at equal cost. The model is scored on dev `evaluations` times, evenly
    spaced, and the best-scoring weights are kept (the paper's selection).

    Args:
        student: a Keras model mapping token ids to logits.
        tokenizer: a `kdkeras.text.WordTokenizer`.
        train, dev: `kdkeras.data.hedwig.Split`s.
        multi_label: BCE (True) or CE (False) on the labels.
        updates: optimizer updates (batches) in the whole training.
        batch_size: batch size.
        optimizer: a Keras optimizer (with `use_ema=True` when `ema`).
        evaluations: how many times the model is scored on dev.
        teacher_logits: train-split teacher logits; None trains without KD.
        alpha, temperature, direction, kl_label_reduction: see
            `kdkeras.distillation.Distiller`.
        labeled: with `teacher_logits`, a bool per train document, False for
            documents without labels (they train on the distillation term
            only); None: all labelled.
        seed: shuffling and initialisation seed.
        work_dir: folder for backups and the best checkpoint.
        ema: evaluate and keep the optimizer's averaged weights.

    Returns:
        A dict with the history, the selected period (`best_epoch`) and dev
        score, `updates` (the total trained) and `steps_per_evaluation`.

    Example:
    >>> fit_student(student, tokenizer, train, dev, True, updates=1000, batch_size=128,
    ...             optimizer=keras.optimizers.Adam(1e-3), work_dir="work")
    """
    keras.utils.set_random_seed(seed)
    if labeled is not None and teacher_logits is None:
        raise ValueError("documents without labels (labeled=False) need teacher_logits")
    init_output_bias(student, train.labels if labeled is None else train.labels[np.asarray(labeled, bool)], multi_label)
    y = targets(train.labels, multi_label)
    if teacher_logits is None:
        model = student
        model.compile(optimizer=optimizer, loss=task_loss(multi_label))
    else:
        model = Distiller(student, multi_label=multi_label, alpha=alpha, temperature=temperature, direction=direction,
                          kl_label_reduction=kl_label_reduction)
        model.compile(optimizer=optimizer)
        y = {"labels": y, "teacher_logits": np.asarray(teacher_logits, "float32")}
        if labeled is not None:
            y["labeled"] = np.asarray(labeled, "float32")
    steps, periods = update_budget(updates, evaluations)
    dev_ds = make_dataset(dev.texts, tokenizer, 256)
    result = _fit(model, (train.texts, y, tokenizer, batch_size, seed), dev_ds, dev.labels, multi_label, periods,
                  work_dir, verbose, student, ema, steps=steps)
    return {**result, "updates": steps * periods, "steps_per_evaluation": steps}


def predict_logits(model, transform, texts, batch_size=64, verbose=0):
    """Logits of `model` for raw `texts`, batched through `transform`."""
    return model.predict(make_dataset(texts, transform, batch_size), verbose=verbose)
