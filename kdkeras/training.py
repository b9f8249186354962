"""Training loops for teachers and students: `fit_teacher`, `fit_student`, their schedule and strategy.

Model selection follows the paper: after every epoch the model is scored on
the dev split with the task metric, and the best epoch's weights are kept.
An interrupted training resumes at the last finished epoch, with the same
result as an uninterrupted one (see `_fit`). Input pipelines are in
`kdkeras.batches` and `kdkeras.buckets`, the callbacks in `kdkeras.callbacks`.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from kdkeras import buckets, frozen
from kdkeras.names import STRATEGIES
from kdkeras.batches import TrainingData, make_dataset
from kdkeras.callbacks import DevSelection, EpochBackup, console_progress
from kdkeras.distillation import Distiller, task_loss

CACHE_LIMIT = 4 * 2**30  # bytes of cached hidden states (train + dev) a teacher with a frozen bottom may keep


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


def limit_threads(threads):
    """Limits TensorFlow (and the OpenMP / BLAS libraries it may load) to `threads` threads.

    Call it before TensorFlow runs its first op: its thread pools are fixed
    then, and later calls raise `RuntimeError`.

    Args:
        threads: threads for TensorFlow's intra-op and inter-op pools.

    Example:

    >>> limit_threads(1)  # a worker that shares the cores with others
    """
    threads = int(threads)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


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


def fit_teacher(
    teacher,
    preprocessor,
    train,
    dev,
    multi_label,
    *,
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
    cache_frozen=False,
    cache_limit=CACHE_LIMIT,
    log=None,
):
    """Fine-tunes a DocBERT teacher end to end and keeps its best dev epoch.

    Args:
        teacher: a `kdkeras.models.DocBERT`.
        preprocessor: the matching `BertTextClassifierPreprocessor`.
        train, dev: `kdkeras.data.hedwig.Split`s.
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
        cache_frozen: with length buckets and a frozen bottom (the
            embeddings and the first k layers, `kdkeras.frozen`), run the
            bottom once per document and train the top on its cached hidden
            states (the frozen layers then run without dropout).
        cache_limit: most bytes the cached train and dev states may take;
            above it the whole teacher runs every step.
        log: optional progress printer.

    Returns:
        A dict with the training history and the selected epoch and dev score
        (and `cached_layers`: the frozen layers run once, 0 if none).
    """
    keras.utils.set_random_seed(seed)
    steps = epochs * int(np.ceil(len(train) / batch_size))
    schedule = WarmupLinearDecay(learning_rate, steps, int(warmup_fraction * steps))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    init_output_bias(teacher, train.labels, multi_label)
    y = targets(train.labels, multi_label)
    if length_buckets and buckets.supports(preprocessor):  # tokenised once, batches cut to their longest document
        train_encoded, dev_encoded = buckets.encode(train.texts, preprocessor), buckets.encode(dev.texts, preprocessor)
        depth = frozen.frozen_depth(teacher.backbone) if cache_frozen and hasattr(teacher, "backbone") else 0
        model, depth = teacher, _cacheable(teacher, depth, (train_encoded, dev_encoded), cache_limit, log)
        if depth:  # the frozen bottom runs once; the top trains on its output and shares its weights with `teacher`
            bottom = frozen.bottom_model(teacher.backbone, depth)
            train_encoded, dev_encoded = frozen.cache(bottom, train_encoded), frozen.cache(bottom, dev_encoded)
            model = frozen.top_model(teacher, depth)
        train_data = buckets.BucketedEpochs(train_encoded, y, batch_size, seed)
        dev_ds, order = buckets.inference_dataset(dev_encoded, 64)
        dev_labels = np.asarray(dev.labels)[order]
    else:
        model, depth = teacher, 0
        train_data = TrainingData(train.texts, y, preprocessor, batch_size, seed)
        dev_ds, dev_labels = make_dataset(dev.texts, preprocessor, 64), dev.labels
    model.compile(optimizer=optimizer, loss=task_loss(multi_label), jit_compile=jit_compile)
    result = _fit(model, train_data, dev_ds, dev_labels, multi_label, epochs=epochs, work_dir=work_dir, verbose=verbose)
    return {**result, "cached_layers": depth}


def _cacheable(teacher, depth, encoded, limit, log):
    """`depth` when the hidden states after `depth` frozen layers of `encoded` documents fit `limit` bytes, else 0."""
    if not depth:
        return 0
    size = sum(frozen.cache_bytes(e, teacher.backbone.hidden_dim) for e in encoded)
    if size > limit:
        if log:
            log(f"not caching the frozen layers: {size / 2**30:.1f} GiB of hidden states, above {limit / 2**30:.1f} GiB")
        return 0
    if log:
        log(f"caching the hidden states after {depth} frozen layers: {len(encoded[0])} train and {len(encoded[1])} dev "
            f"documents ({size / 2**30:.2f} GiB)")
    return depth


def _fit(model, train_data, dev_ds, dev_labels, multi_label, *, epochs, work_dir, verbose, target=None, ema=False,
         steps=None):
    """`model.fit` with dev selection, resuming from the backup in `work_dir`.

    A training interrupted at any point and started again gives the same
    weights, history and selection as an uninterrupted one (on the same
    machine): epoch `e` always has the same batches (`EpochOrder`),
    the backup restores weights, optimizer and seed generators, and the dev
    score of an epoch is stored before its backup (a kill in between
    retrains that epoch identically and scores it again).

    Args:
        train_data: a `kdkeras.batches.TrainingData` or a `kdkeras.buckets.BucketedEpochs`.
        epochs: number of epochs (with `steps`: evaluation periods).
        steps: batches per epoch (None: one pass over the data).
    """
    selection = DevSelection(dev_ds, dev_labels, multi_label, os.path.join(work_dir, "best"),
                             model=model if target is None else target, ema=ema)
    backup = EpochBackup(os.path.join(work_dir, "backup"))
    first = backup.initial_epoch
    if first < epochs:
        if isinstance(train_data, buckets.BucketedEpochs):
            train_ds, order = train_data.dataset(), train_data
        else:
            train_ds, order = train_data.dataset(steps)
        verbose, progress = console_progress(verbose)
        model.fit(train_ds, epochs=epochs, initial_epoch=first, callbacks=[order, selection, backup, *progress],
                  verbose=verbose, shuffle=False)
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
    distillation_loss="kl",
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
        alpha, temperature, direction, kl_label_reduction, distillation_loss:
            see `kdkeras.distillation.Distiller`.
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
                          kl_label_reduction=kl_label_reduction, distillation_loss=distillation_loss)
        model.compile(optimizer=optimizer)
        y = {"labels": y, "teacher_logits": np.asarray(teacher_logits, "float32")}
        if labeled is not None:
            y["labeled"] = np.asarray(labeled, "float32")
    steps, periods = update_budget(updates, evaluations)
    dev_ds = make_dataset(dev.texts, tokenizer, 256)
    result = _fit(model, TrainingData(train.texts, y, tokenizer, batch_size, seed), dev_ds, dev.labels, multi_label,
                  epochs=periods, work_dir=work_dir, verbose=verbose, target=student, ema=ema, steps=steps)
    return {**result, "updates": steps * periods, "steps_per_evaluation": steps}
