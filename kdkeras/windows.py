"""Long documents for the teacher: overlapping windows of word pieces, logits pooled per document.

A BERT teacher reads at most `sequence_length` word pieces. Instead of
truncating, `WindowedPreprocessor` cuts each document's word pieces into up to
`num_windows` windows of `sequence_length - 2` pieces (each wrapped in
[CLS] … [SEP]) that start every `stride` pieces, and `WindowedClassifier` runs
the classifier on every window and pools the window logits per document
(mean or max over the windows that hold text). Both work for training (the
loss is on the pooled logits) and for inference.
"""

import keras
import tensorflow as tf

POOLINGS = ("mean", "max")


class WindowedPreprocessor:
    """Batched raw strings → windows of BERT inputs, `[batch, num_windows, sequence_length]`.

    Args:
        preprocessor: a `keras_hub.models.BertTextClassifierPreprocessor`
            (its tokenizer and sequence length are used).
        num_windows: most windows per document; word pieces beyond
            `(sequence_length - 2) + (num_windows - 1) * stride` are dropped.
        stride: word pieces between window starts; default half a window
            (windows overlap by half). Must be at most a window.

    Returns (when called on a batch of strings) a dict with `token_ids`,
    `padding_mask` and `segment_ids` of shape `[batch, num_windows,
    sequence_length]` and `window_mask` `[batch, num_windows]` (True for a
    window that adds text: the first, and each one reaching past the end of
    the window before it).

    Example:
    >>> _, preprocessor = kdkeras.models.load_backbone("minilm", 128)
    >>> windows = WindowedPreprocessor(preprocessor, num_windows=4)
    >>> windows(["a long review ..."])["token_ids"].shape
    TensorShape([1, 4, 128])
    """

    def __init__(self, preprocessor, num_windows=4, stride=None):
        self.preprocessor = preprocessor
        self.tokenizer = preprocessor.tokenizer
        self.sequence_length = preprocessor.sequence_length
        self.window = self.sequence_length - 2
        if num_windows < 1:
            raise ValueError(f"num_windows must be at least 1, got {num_windows}")
        self.num_windows = int(num_windows)
        self.stride = int(stride or max(1, self.window // 2))
        if not 1 <= self.stride <= self.window:
            raise ValueError(f"stride must be between 1 and {self.window} (a window), got {stride}")

    @property
    def span(self):
        """Word pieces of a document the windows can cover."""
        return self.window + (self.num_windows - 1) * self.stride

    def __call__(self, texts):
        # In a graph (tf.data, tf.function) the tokenizer returns ragged tensors; eagerly it returns lists.
        return self._windows(tf.reshape(tf.convert_to_tensor(texts), [-1]))

    @tf.function(reduce_retracing=True)
    def _windows(self, texts):
        tok = self.tokenizer
        ids = tok(texts)  # [B, None] word-piece ids
        ids = ids[:, : self.span]
        lengths = tf.cast(ids.row_lengths(), "int32")
        dense = tf.cast(ids.to_tensor(default_value=tok.pad_token_id, shape=[None, self.span]), "int32")
        frames = tf.signal.frame(dense, self.window, self.stride, axis=-1)  # [B, W, window]
        starts = tf.range(self.num_windows, dtype="int32") * self.stride
        n = tf.clip_by_value(lengths[:, None] - starts[None, :], 0, self.window)  # pieces per window
        previous_end = starts - self.stride + self.window  # where the window before ends
        window_mask = (starts[None, :] == 0) | (lengths[:, None] > previous_end[None, :])
        batch = tf.shape(frames)[0]
        zeros = tf.fill([batch, self.num_windows, 1], tf.constant(tok.pad_token_id, "int32"))
        shifted = tf.concat([zeros, frames, zeros], axis=-1)  # piece p-1 at position p
        p = tf.range(self.sequence_length, dtype="int32")[None, None, :]
        n = n[:, :, None]
        token_ids = tf.where(
            p == 0, tok.cls_token_id,
            tf.where(p <= n, shifted, tf.where(p == n + 1, tok.sep_token_id, tok.pad_token_id)),
        )
        return {
            "token_ids": token_ids,
            "padding_mask": p <= n + 1,
            "segment_ids": tf.zeros_like(token_ids),
            "window_mask": window_mask,
        }

    def get_config(self):
        return {"num_windows": self.num_windows, "stride": self.stride}


@keras.saving.register_keras_serializable(package="kdkeras")
class WindowedClassifier(keras.Model):
    """Runs a token-id classifier on each window and pools the logits per document.

    Args:
        classifier: a model taking `token_ids`, `padding_mask`, `segment_ids`
            of shape `[n, sequence_length]` and returning `[n, K]` logits
            (e.g. `kdkeras.models.DocBERT`).
        pooling: `"mean"` or `"max"` of the logits over the windows that hold
            text.

    Example:
    >>> windows = WindowedPreprocessor(preprocessor, num_windows=4)
    >>> model = WindowedClassifier(DocBERT(backbone, num_classes=10))
    >>> logits = model(windows(["a long review ..."]))  # [1, 10]
    """

    def __init__(self, classifier, pooling="mean", **kwargs):
        super().__init__(**kwargs)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.classifier = classifier
        self.pooling = pooling
        self.built = classifier.built  # no weights of its own

    def call(self, inputs, training=False):
        ops = keras.ops
        token_ids = inputs["token_ids"]
        shape = ops.shape(token_ids)
        batch, windows, length = shape[0], shape[1], shape[2]
        flat = {k: ops.reshape(inputs[k], (-1, length)) for k in ("token_ids", "padding_mask", "segment_ids")}
        logits = self.classifier(flat, training=training)
        logits = ops.reshape(logits, (batch, windows, -1))
        mask = ops.cast(ops.expand_dims(inputs["window_mask"], -1), logits.dtype)
        if self.pooling == "mean":
            return ops.sum(logits * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
        return ops.max(logits + (mask - 1.0) * 1e9, axis=1)

    def get_config(self):
        return {"classifier": keras.saving.serialize_keras_object(self.classifier), "pooling": self.pooling,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["classifier"] = keras.saving.deserialize_keras_object(config["classifier"])
        return cls(**config)


def wrap(classifier, preprocessor, num_windows=1, stride=None, pooling="mean"):
    """`(model, transform)` reading documents in windows, or the inputs unchanged for one window.

    Args:
        classifier: the token-id classifier (e.g. DocBERT).
        preprocessor: its BERT preprocessor.
        num_windows: windows per document; 1 keeps plain truncation.
        stride: word pieces between window starts (default half a window).
        pooling: "mean" or "max" of the window logits.
    """
    if num_windows <= 1:
        return classifier, preprocessor
    return WindowedClassifier(classifier, pooling), WindowedPreprocessor(preprocessor, num_windows, stride)


CONFIG_FILE = "windows.json"


def save_config(directory, num_windows, stride=None, pooling="mean"):
    """Records the window settings beside a saved preprocessor (nothing for one window)."""
    if num_windows <= 1:
        return
    import json
    import os

    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        json.dump({"num_windows": int(num_windows), "stride": stride, "pooling": pooling}, f, indent=2)


def load(classifier, directory, sequence_length=None):
    """`(model, transform)` for a teacher and the preprocessor saved in `directory` (windowed if saved so).

    Args:
        classifier: the loaded teacher (a `kdkeras.models.DocBERT`).
        directory: the folder of `kdkeras.models.backbones.save_preprocessor`
            (and of `save_config`, for a windowed teacher).
        sequence_length: word pieces the teacher reads per document at
            inference, when more than it was trained on (None, or no more
            than its training length: its training length), at most what its
            position embeddings cover (512 for BERT checkpoints). A teacher
            trained on 64 word pieces reads 128 with its pre-trained position
            embeddings, and on Reuters scores higher so (docs/results/
            sweep_reuters_teacher_inference_length.json). Not
            for windowed teachers.

    Raises:
        ValueError: `sequence_length` is set for a windowed teacher.

    Example:
    >>> model, preprocessor = load(teacher, "TeacherTrainer/preprocessor", sequence_length=128)
    >>> logits = model(preprocessor(["Oil prices rose sharply."]))
    """
    import json
    import os

    from kdkeras.models import backbones

    path = os.path.join(directory, CONFIG_FILE)
    windowed = tf.io.gfile.exists(path)
    preprocessor = backbones.load_preprocessor(directory)
    if sequence_length and sequence_length > preprocessor.sequence_length:
        if windowed:
            raise ValueError(f"{directory}: the teacher reads windows of its training length; "
                             "an inference length applies to teachers that read one window")
        longest = getattr(getattr(classifier, "backbone", None), "max_sequence_length", sequence_length)
        sequence_length = min(sequence_length, longest)
        if sequence_length > preprocessor.sequence_length:  # the same tokenizer, a longer cut
            preprocessor = type(preprocessor)(tokenizer=preprocessor.tokenizer, sequence_length=sequence_length)
    if not windowed:
        return classifier, preprocessor
    with tf.io.gfile.GFile(path) as f:
        config = json.load(f)
    return wrap(classifier, preprocessor, config["num_windows"], config.get("stride"), config.get("pooling", "mean"))
