"""`tf.data` input pipelines: texts through a tokenizer or preprocessor into batches.

Inference batches keep the texts' order (`make_dataset`, `predict_logits`);
training batches follow `kdkeras.callbacks.EpochOrder`, a fixed order per
epoch, so a resumed training sees the same batches as an uninterrupted one
(`make_training_dataset`, `TrainingData`). Length-bucketed batches for the
teacher are in `kdkeras.buckets`.

Example:
>>> data = TrainingData(texts, y, tokenizer, batch_size=32, seed=0)
>>> ds, order = data.dataset(steps=100)  # pass `order` to `fit` as a callback
"""

import dataclasses

import numpy as np
import tensorflow as tf

from kdkeras.callbacks import EpochOrder, console_progress

AUTOTUNE = tf.data.AUTOTUNE


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


def make_training_dataset(texts, y, transform, batch_size, *, seed=0, steps=None):
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
    order = EpochOrder(n, seed=seed, steps=steps, batch_size=batch_size)
    texts = tf.constant(list(texts))
    y = tf.nest.map_structure(tf.convert_to_tensor, y)

    def gather(indices):
        return transform(tf.gather(texts, indices)), tf.nest.map_structure(lambda t: tf.gather(t, indices), y)

    size = n if steps is None else steps * batch_size
    cardinality = steps_per_epoch(n, batch_size) if steps is None else steps
    ds = tf.data.Dataset.from_generator(order, output_signature=tf.TensorSpec([size], tf.int64)).unbatch()
    ds = ds.batch(batch_size).apply(tf.data.experimental.assert_cardinality(cardinality))
    return ds.map(gather, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE), order


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """A training split ready for `make_training_dataset` (its fields are that function's arguments)."""

    texts: list
    y: object
    transform: object
    batch_size: int
    seed: int = 0

    def dataset(self, steps=None):
        """`(dataset, EpochOrder callback)`; `steps` batches per epoch (None: one pass)."""
        return make_training_dataset(self.texts, self.y, self.transform, self.batch_size, seed=self.seed, steps=steps)


def predict_logits(model, transform, texts, batch_size=64, verbose=0):
    """Logits of `model` for raw `texts`, batched through `transform` (`verbose="auto"`: see `console_progress`)."""
    verbose, progress = console_progress(verbose)
    return model.predict(make_dataset(texts, transform, batch_size), verbose=verbose, callbacks=progress)
