"""Bag of embeddings: the mean of a document's word vectors → logits (fastText, MediaPipe's average-word-embedding).

The cheapest student that still learns word vectors: one embedding lookup per
word, a mean, one (optionally two) small dense layers. Started from the
teacher's word-piece vectors reduced to its width (`word_vectors="teacher_pca"`)
and distilled from the teacher, it is the fastText / MediaPipe class of text
classifier with BERT's knowledge in it; on a device it costs a few
microseconds per document.
"""

import keras
from keras import layers, ops

from kdkeras.embeddings import initializer


@keras.saving.register_keras_serializable(package="kdkeras")
class MeanOfWordVectors(layers.Layer):
    """Mean of the word vectors at non-padding positions (token id ≠ 0); zeros for an empty document.

    Padding never enters the mean, so a document's output does not depend on
    how far its batch is padded. With `log_weights` (one value per position,
    shape `(batch, time, 1)`), the mean is weighted: Σ exp(wₜ) vₜ / Σ exp(wₜ)
    over the document's words.
    """

    def call(self, vectors, token_ids, log_weights=None):
        keep = ops.cast(ops.not_equal(token_ids, 0), vectors.dtype)
        if log_weights is not None:
            keep = keep * ops.exp(ops.squeeze(log_weights, -1))
        total = ops.sum(vectors * ops.expand_dims(keep, -1), axis=1)
        count = ops.sum(keep, axis=1, keepdims=True)
        if log_weights is None:
            return total / ops.maximum(count, 1.0)
        # A weighted count can be anywhere in (0, 1): only an empty document (count 0) is divided by 1.
        return total / ops.where(count > 0, count, ops.ones_like(count))


def build_boe(
    vocabulary_size,
    num_classes,
    sequence_length=None,
    embedding_dim=64,
    hidden_dim=0,
    dropout=0.0,
    word_weights=False,
    embeddings=None,
    seed=None,
    name="boe",
):
    """Builds the bag-of-embeddings student: token ids in, logits out.

    Word vectors → mean over the document's words (optionally weighted by a
    learned weight per word) → [dense `hidden_dim`, ReLU] → dropout → dense
    logits.

    Args:
        vocabulary_size: rows of the embedding matrix (index 0 is padding).
        num_classes: number of output logits.
        sequence_length: fixed input length, or None for variable length.
        embedding_dim: word-vector size.
        hidden_dim: width of a hidden ReLU layer after the mean (0: none,
            logits are linear in the mean as in fastText).
        dropout: dropout on the features before the output layer.
        word_weights: learn one weight per vocabulary word (stored as its
            log, starting at 0: the plain mean) and average the document's
            word vectors with those weights, as tf-idf down-weights frequent
            words; adds `vocabulary_size` parameters.
        embeddings: optional `(vocabulary_size, embedding_dim)` initial vectors.
        seed: seed for initialisers and dropout.
        name: model name.

    Returns:
        A functional `keras.Model` mapping int token ids to logits.

    Example:
    >>> model = build_boe(vocabulary_size=20000, num_classes=90, embedding_dim=32)
    >>> logits = model(keras.ops.ones((4, 50), dtype="int32"))
    """
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    vectors = layers.Embedding(vocabulary_size, embedding_dim, embeddings_initializer=initializer(embeddings, seed),
                               name="embedding")(token_ids)
    log_weights = None
    if word_weights:
        log_weights = layers.Embedding(vocabulary_size, 1, embeddings_initializer="zeros",
                                       name="word_weight")(token_ids)
    x = MeanOfWordVectors(name="mean")(vectors, token_ids, log_weights)
    if hidden_dim:
        x = layers.Dense(hidden_dim, activation="relu",
                         kernel_initializer=keras.initializers.GlorotUniform(seed=seed), name="hidden")(x)
    if dropout:
        x = layers.Dropout(dropout, seed=seed)(x)
    logits = layers.Dense(num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                          name="logits")(x)
    return keras.Model(token_ids, logits, name=name)


def boe_optimizer(learning_rate=1e-2, **kwargs):
    """Adam (fastText uses plain SGD with a decaying rate; Adam needs no schedule at these budgets)."""
    return keras.optimizers.Adam(learning_rate=learning_rate)
