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
    how far its batch is padded.
    """

    def call(self, vectors, token_ids):
        keep = ops.cast(ops.not_equal(token_ids, 0), vectors.dtype)
        total = ops.sum(vectors * ops.expand_dims(keep, -1), axis=1)
        count = ops.sum(keep, axis=1, keepdims=True)
        return total / ops.maximum(count, 1.0)


def build_boe(
    vocabulary_size,
    num_classes,
    sequence_length=None,
    embedding_dim=64,
    hidden_dim=0,
    dropout=0.0,
    embeddings=None,
    seed=None,
    name="boe",
):
    """Builds the bag-of-embeddings student: token ids in, logits out.

    Word vectors → mean over the document's words → [dense `hidden_dim`,
    ReLU] → dropout → dense logits.

    Args:
        vocabulary_size: rows of the embedding matrix (index 0 is padding).
        num_classes: number of output logits.
        sequence_length: fixed input length, or None for variable length.
        embedding_dim: word-vector size.
        hidden_dim: width of a hidden ReLU layer after the mean (0: none,
            logits are linear in the mean as in fastText).
        dropout: dropout on the features before the output layer.
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
    x = MeanOfWordVectors(name="mean")(vectors, token_ids)
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
