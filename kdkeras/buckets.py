"""Length-bucketed BERT batches: the teacher pays for the word pieces a document has, not for padding.

A `keras_hub.models.BertTextClassifierPreprocessor` pads every document to
its `sequence_length`. Here documents are tokenised once (`encode`), each
batch is cut to the bucket length of its longest document (at most eight
steps up to the sequence length, `bucket_lengths`, so XLA compiles a handful
of shapes), and batches are made of documents of similar length: in
training, the epoch's shuffled
documents are sorted by length within chunks of `chunk_batches` batches
and the batches are then shuffled (a function of `(seed, epoch)` alone, so a
resumed training sees the same batches); in inference, documents are sorted
by length and the logits returned in the input order.

Padding is at the end and masked, so a cut batch gives the same logits as the
full-length one (up to float rounding).

Example:
>>> encoded = encode(texts, preprocessor)
>>> encoded.token_count, encoded.padded_count(training_batches(encoded, 16, seed=0, epoch=0))
>>> logits = predict_logits(teacher, encoded, batch_size=64)
"""

import dataclasses
import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

from kdkeras.callbacks import console_progress

KEYS = ("token_ids", "padding_mask", "segment_ids")


def supports(preprocessor):
    """Whether `preprocessor` gives plain `[batch, sequence_length]` BERT inputs that can be cut (not windows)."""
    return (all(hasattr(preprocessor, a) for a in ("tokenizer", "sequence_length"))
            and not hasattr(preprocessor, "num_windows"))


def bucket_lengths(sequence_length, count=None, multiple=8):
    """The cut lengths for a maximum of `sequence_length`: `k/count · sequence_length` for k = 1 … count.

    Args:
        sequence_length: the preprocessor's (longest) length.
        count: how many equal steps up to `sequence_length`; default one per
            16 word pieces, between 2 and 8 (each is a shape XLA compiles).
        multiple: lengths are rounded up to a multiple of this.

    Returns:
        Sorted distinct lengths, the last one `sequence_length`.

    Example:
    >>> bucket_lengths(256), bucket_lengths(64)
    ([32, 64, 96, 128, 160, 192, 224, 256], [16, 32, 48, 64])
    """
    count = count or min(8, max(2, sequence_length // 16))
    lengths = {min(sequence_length, int(np.ceil(sequence_length * k / count / multiple) * multiple))
               for k in range(1, count + 1)}
    return sorted(lengths | {sequence_length})


@dataclasses.dataclass
class Encoded:
    """Documents tokenised once: `[n, sequence_length]` int32 arrays and each document's length.

    Attributes:
        inputs: `{"token_ids", "padding_mask", "segment_ids"}` NumPy arrays
            (or any arrays `[n, sequence_length, ...]` cut the same way, such
            as the hidden states of `kdkeras.frozen.cache`).
        lengths: word pieces per document, [CLS] and [SEP] included.
        buckets: the cut lengths (`bucket_lengths`).
    """

    inputs: dict
    lengths: np.ndarray
    buckets: list

    def __len__(self):
        return len(self.lengths)

    @property
    def token_count(self):
        """Word pieces in all documents (what a perfectly packed run would pay for)."""
        return int(self.lengths.sum())

    def cut_length(self, indices):
        """The bucket length that holds the longest of the documents `indices`."""
        return self.buckets[int(np.searchsorted(self.buckets, self.lengths[indices].max()))]

    def document_cuts(self):
        """Each document's own bucket length."""
        return np.asarray(self.buckets)[np.searchsorted(self.buckets, self.lengths)]

    def batch(self, indices):
        """The inputs of documents `indices`, cut to their bucket length."""
        cut = self.cut_length(indices)
        return {k: v[indices, :cut] for k, v in self.inputs.items()}

    def padded_count(self, batches):
        """Word-piece slots (real and padding) computed for a list of index batches."""
        return int(sum(len(b) * self.cut_length(b) for b in batches))

    def input_spec(self):
        """The `tf.TensorSpec`s of a batch of cut inputs: batch and length unknown, other axes as stored."""
        return {k: tf.TensorSpec([None, None, *v.shape[2:]], tf.as_dtype(v.dtype)) for k, v in self.inputs.items()}


_GRAPHS = weakref.WeakKeyDictionary()  # preprocessor -> its call as one traced graph
_GRAPHS_LOCK = threading.Lock()


def _graph(preprocessor):
    """`preprocessor` as a `tf.function` over a batch of strings, traced once per preprocessor.

    Called eagerly, a KerasHub preprocessor runs its string ops one by one;
    traced once, it gives the same ids in a small fraction of the time (the
    trace costs a few seconds, once per preprocessor and process).
    """
    with _GRAPHS_LOCK:
        graph = _GRAPHS.get(preprocessor)
        if graph is None:
            owner = weakref.ref(preprocessor)  # the graph must not keep its preprocessor (the dict's key) alive
            graph = _GRAPHS[preprocessor] = tf.function(
                lambda texts: owner()(texts), input_signature=[tf.TensorSpec([None], tf.string)])
    return graph


def encode(texts, preprocessor, batch_size=256, buckets=None):
    """Tokenises `texts` once with a BERT preprocessor; returns an `Encoded`.

    Args:
        texts: list of strings.
        preprocessor: a `BertTextClassifierPreprocessor` (its `sequence_length` is the longest cut).
        batch_size: documents per tokenisation call.
        buckets: cut lengths (default: `bucket_lengths(preprocessor.sequence_length)`).
    """
    texts = list(texts)
    parts = {k: [] for k in KEYS}
    tokenize = _graph(preprocessor)
    for start in range(0, len(texts), batch_size):
        out = tokenize(tf.constant(texts[start:start + batch_size]))
        for k in KEYS:
            parts[k].append(np.asarray(out[k]).astype("int32"))
    length = preprocessor.sequence_length
    inputs = {k: np.concatenate(v) if v else np.zeros((0, length), "int32") for k, v in parts.items()}
    lengths = inputs["padding_mask"].sum(axis=1).astype("int64")
    return Encoded(inputs, lengths, list(buckets or bucket_lengths(length)))


def training_batches(encoded, batch_size, seed, epoch, chunk_batches=50):
    """One epoch's batches (lists of document indices), documents of similar length together.

    The epoch's permutation (seeded with `(seed, epoch)`) is cut into chunks
    of `chunk_batches * batch_size` documents; each chunk is sorted by length
    and cut into batches, and all batches are shuffled. There are
    `ceil(n / batch_size)` batches, at most one per chunk smaller than
    `batch_size` (only in the last chunk).
    """
    n = len(encoded)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    chunk = chunk_batches * batch_size
    batches = []
    for start in range(0, n, chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(encoded.lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class BucketedEpochs(keras.callbacks.Callback):
    """The batches of each epoch for `fit`, a function of `(seed, epoch)` alone (see `training_batches`).

    Pass it to `fit` with `dataset()`: it tells the dataset which epoch is starting.

    Args:
        encoded: the training documents (`encode`).
        y: targets, an array with one row per document.
        batch_size, seed, chunk_batches: see `training_batches`.
    """

    def __init__(self, encoded, y, batch_size, seed=0, chunk_batches=50):
        super().__init__()
        self.encoded, self.y = encoded, np.asarray(y)
        self.batch_size, self.seed, self.chunk_batches, self.epoch = batch_size, seed, chunk_batches, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def batches(self, epoch=None):
        return training_batches(self.encoded, self.batch_size, self.seed, self.epoch if epoch is None else epoch,
                                self.chunk_batches)

    def _generate(self):
        for indices in self.batches():
            yield self.encoded.batch(indices), self.y[indices]

    def dataset(self):
        """A `tf.data.Dataset` of one epoch's `(inputs, y)` batches, re-read for every epoch."""
        y_spec = tf.TensorSpec([None, *self.y.shape[1:]], tf.as_dtype(self.y.dtype))
        cardinality = int(np.ceil(len(self.encoded) / self.batch_size))
        ds = tf.data.Dataset.from_generator(self._generate, output_signature=(self.encoded.input_spec(), y_spec))
        return ds.apply(tf.data.experimental.assert_cardinality(cardinality)).prefetch(2)


def inference_batches(encoded, batch_size):
    """Batches of document indices sorted by length (shortest first), `batch_size` each."""
    order = np.argsort(encoded.lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def inference_dataset(encoded, batch_size):
    """`(dataset, order)`: length-sorted input batches and the document index of each row they give."""
    batches = inference_batches(encoded, batch_size)
    ds = tf.data.Dataset.from_generator(lambda: (encoded.batch(b) for b in batches),
                                        output_signature=encoded.input_spec())
    order = np.concatenate(batches) if batches else np.zeros(0, "int64")
    return ds.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2), order


def predict_texts(model, preprocessor, texts, batch_size=64, verbose=0):
    """Logits of a teacher for raw `texts`, length-bucketed when the preprocessor allows it, in input order."""
    if not supports(preprocessor):
        from kdkeras import batches

        return batches.predict_logits(model, preprocessor, texts, batch_size, verbose)
    return predict_logits(model, encode(texts, preprocessor), batch_size, verbose)


def predict_logits(model, encoded, batch_size=64, verbose=0):
    """Logits of `model` for `encoded` documents, batched by length, returned in the documents' order.

    `verbose="auto"` shows progress as Keras' bar on a terminal and as plain
    lines in a log file (`kdkeras.callbacks.console_progress`)."""
    if not len(encoded):
        return np.zeros((0, model.output_shape[-1]), "float32")
    ds, order = inference_dataset(encoded, batch_size)
    verbose, progress = console_progress(verbose)
    logits = np.asarray(model.predict(ds, verbose=verbose, callbacks=progress))
    out = np.empty_like(logits)
    out[order] = logits
    return out
