"""Keras callbacks of the training loops: a fixed example order per epoch, resumable backups, dev selection.

Together they make a training resumable with an identical result: epoch `e`
always reads the same examples in the same order (`EpochOrder`), the backup
restores weights, optimizer and seed generators (`EpochBackup`), and the
best dev epoch is kept on disk as training goes (`DevSelection`). See
`kdkeras.training._fit` for how they are combined.
"""

import json
import os
import sys
import time

import keras
import numpy as np

from kdkeras import metrics


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

    def __init__(self, n, *, seed=0, steps=None, batch_size=None):
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

    def __init__(self, dev_ds, dev_labels, multi_label, checkpoint_dir, *, model=None, ema=False):
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


class ProgressLines(keras.callbacks.Callback):
    """Progress as plain lines, for logs where Keras' progress bar is off.

    In `fit` (with `verbose=0`) it prints `epoch <e>: step <s>/<steps> ·
    loss <l> · <t> s` after the first batch of each epoch and then at most
    every `every_s` seconds, so that a long epoch (a teacher's takes
    minutes) shows it is moving in a log file, and at the end of each epoch
    `epoch <e>/<epochs>: <steps> steps in <t> s · <metric> <value> ...`
    (losses, then dev scores). In `predict` it prints `batch <b>/<batches>
    · <t> s` the same way and `predicted <b> batches in <t> s` at the end.

    Args:
        every_s: seconds between two lines within an epoch.
        print_fn: where the lines go.
    """

    # Only reads the batch logs and its own state: Keras may call it off the training thread, so the loop does not
    # wait for each step's loss (a batch hook that is not async-safe turns that off for every callback).
    async_safe = True

    def __init__(self, every_s=30.0, print_fn=print):
        super().__init__()
        self.every_s = float(every_s)
        self.print_fn = print_fn

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._start, self._last = epoch, time.monotonic(), None

    def on_train_batch_end(self, batch, logs=None):
        now = self._due()
        if now is None:
            return
        loss = (logs or {}).get("loss")
        parts = [f"step {self._count(batch)}"]
        if loss is not None:
            parts.append(f"loss {float(loss):.4f}")
        parts.append(f"{now - self._start:.0f} s")
        self.print_fn(f"epoch {self._epoch + 1}: " + " · ".join(parts), flush=True)

    def on_epoch_end(self, epoch, logs=None):
        params = self.params or {}
        line = f"epoch {epoch + 1}" + (f"/{params['epochs']}" if params.get("epochs") else "") + ": "
        if params.get("steps"):
            line += f"{params['steps']} steps in "
        line += f"{time.monotonic() - self._start:.0f} s"
        # Losses first (4 decimals), then scores (Keras logs the dev metrics as `val_*`).
        items = sorted((logs or {}).items(), key=lambda kv: ("loss" not in kv[0], kv[0]))
        for key, value in items:
            value = float(value)
            line += f" · {key} {value:.4f}" if "loss" in key else f" · {key} {value:.2f}"
        self.print_fn(line, flush=True)

    def on_predict_begin(self, logs=None):
        self._start, self._last, self._batches = time.monotonic(), None, 0

    def on_predict_batch_end(self, batch, logs=None):
        self._batches = batch + 1
        now = self._due()
        if now is not None:
            self.print_fn(f"batch {self._count(batch)} · {now - self._start:.0f} s", flush=True)

    def on_predict_end(self, logs=None):
        self.print_fn(f"predicted {self._batches} batches in {time.monotonic() - self._start:.0f} s", flush=True)

    def _due(self):
        """The time now if a line is due (the first batch, or `every_s` after the last line), else None."""
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every_s:
            return None
        self._last = now
        return now

    def _count(self, batch):
        """`<b>/<steps>`, or `<b>` when Keras does not know the number of steps."""
        steps = self.params.get("steps") if self.params else None
        return f"{batch + 1}/{steps}" if steps else f"{batch + 1}"


def console_progress(verbose, stream=None):
    """`(verbose, callbacks)` for `fit` or `predict`, from `verbose="auto"`.

    On a terminal Keras' progress bar (`verbose=1`); when the output goes to
    a file or a pipe, a `ProgressLines` callback instead, with Keras' own
    lines off (`verbose=0`), so that logs carry plain lines of ours rather
    than a bar redrawn with control codes. Any other `verbose` is returned
    as given, without callbacks.

    Args:
        verbose: `"auto"`, or a Keras verbosity (0, 1, 2) to keep.
        stream: the output to test, `sys.stdout` by default.

    Example:
    >>> verbose, callbacks = console_progress("auto")
    >>> model.predict(ds, verbose=verbose, callbacks=callbacks)  # doctest: +SKIP
    """
    if verbose != "auto":
        return verbose, []
    if (stream or sys.stdout).isatty():
        return 1, []
    return 0, [ProgressLines()]
