"""KimCNN document classifier (Kim, EMNLP 2014), as in hedwig."""

import keras
from keras import layers, ops

from kdkeras.embeddings import initializer


@keras.saving.register_keras_serializable(package="kdkeras")
class ZeroPaddingVectors(layers.Layer):
    """Sets the word vectors of padding positions (token id 0) to zero.

    With zero vectors, extra padding only adds all-zero convolution windows,
    which KimCNN always sees anyway (see `build_kimcnn`), so a document's
    logits do not depend on how far its batch is padded.
    """

    def call(self, vectors, token_ids):
        keep = ops.cast(ops.not_equal(token_ids, 0), vectors.dtype)
        return vectors * ops.expand_dims(keep, -1)


def build_kimcnn(
    vocabulary_size,
    num_classes,
    sequence_length=None,
    embedding_dim=300,
    filters=100,
    widths=(3, 4, 5),
    dropout=0.5,
    embeddings=None,
    mode="multichannel",
    seed=None,
    name="kimcnn",
):
    """Builds KimCNN: token ids in, logits out.

    Word vectors (one or two channels) → for each width w, `filters`
    convolutions spanning w words and the whole vector → ReLU → max over time
    → concatenation → dropout → dense logits. In the `"multichannel"` mode
    of the paper, a frozen ("static") and a trainable ("non-static") copy of
    the embeddings form two input channels and every filter sees both.

    Args:
        vocabulary_size: rows of the embedding matrix (index 0 is padding).
        num_classes: number of output logits.
        sequence_length: fixed input length, or None for variable length.
        embedding_dim: word-vector size (300 in the paper).
        filters: feature maps per width (100).
        widths: filter widths in words (3, 4, 5).
        dropout: dropout before the output layer (0.5).
        embeddings: optional `(vocabulary_size, embedding_dim)` initial vectors.
        mode: `"multichannel"` (static + non-static), `"static"`,
            `"non-static"` or `"rand"` (random, trainable, one channel).
        seed: seed for initialisers and dropout.
        name: model name.

    Returns:
        A functional `keras.Model` mapping int token ids to logits.

    Example:
    >>> model = build_kimcnn(vocabulary_size=20000, num_classes=90)
    >>> logits = model(keras.ops.ones((4, 50), dtype="int32"))
    """
    if mode not in ("multichannel", "static", "non-static", "rand"):
        raise ValueError(f"unknown KimCNN mode {mode!r}")
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    init = initializer(None if mode == "rand" else embeddings, seed)
    channels = []
    if mode in ("multichannel", "static"):
        channels.append(layers.Embedding(vocabulary_size, embedding_dim, embeddings_initializer=init,
                                         trainable=False, name="static_embedding")(token_ids))
    if mode in ("multichannel", "non-static", "rand"):
        channels.append(layers.Embedding(vocabulary_size, embedding_dim, embeddings_initializer=init,
                                         name="embedding")(token_ids))
    x = channels[0] if len(channels) == 1 else layers.Concatenate(axis=-1, name="channels")(channels)
    x = ZeroPaddingVectors()(x, token_ids)
    # x: (batch, time, channels * embedding_dim), channel c in features [c * embedding_dim, (c + 1) * embedding_dim).
    # A Conv1D of width w over this is the paper's 2-D convolution spanning w words, the whole vector and every
    # channel (kernel (w, embedding_dim, channels, filters) = this kernel reshaped), but much faster on CPU.
    # Zero rows around the document: short documents still give features, and `max(widths)` rows at the
    # end make an all-zero window exist for every width, so batch padding (zero vectors) adds nothing new.
    x = layers.ZeroPadding1D((max(widths) - 1, max(widths)), name="pad")(x)
    # Glorot uniform with the fans of the 2-D kernel, fan_in w·E·C and fan_out w·E·F, as before (the 1-D kernel's
    # own fans, w·C·E and w·F, would start from larger weights).
    conv_init = keras.initializers.VarianceScaling(
        scale=(len(channels) * embedding_dim + filters) / (embedding_dim * (len(channels) + filters)),
        mode="fan_avg", distribution="uniform")
    pooled = []
    for w in widths:
        conv = layers.Conv1D(filters, w, activation="relu", kernel_initializer=conv_init, name=f"conv_{w}")(x)
        pooled.append(layers.GlobalMaxPooling1D(name=f"max_over_time_{w}")(conv))
    x = layers.Concatenate(name="features")(pooled)
    x = layers.Dropout(dropout, seed=seed)(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(token_ids, logits, name=name)


def build_kimcnn_conv2d(vocabulary_size, num_classes, embedding_dim=300, filters=100, widths=(3, 4, 5), dropout=0.5,
                        mode="multichannel", name="kimcnn_conv2d"):
    """The paper's 2-D formulation of KimCNN, kept as the reference for `build_kimcnn`.

    Word vectors as `(batch, time, embedding_dim, channels)` and a
    `Conv2D((w, embedding_dim))` per width: the same function as
    `build_kimcnn` (its 1-D kernel is this kernel reshaped; see
    tests/models/kimcnn_test.py) and the same training cost model as
    hedwig's, which `pipelines.benchmark_train` compares against.

    Args:
        vocabulary_size, num_classes, embedding_dim, filters, widths,
        dropout, mode: as in `build_kimcnn` (random initial vectors).
        name: model name.

    Returns:
        A functional `keras.Model` mapping int token ids to logits.

    Example:
    >>> model = build_kimcnn_conv2d(vocabulary_size=20000, num_classes=90)
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    channels = []
    if mode in ("multichannel", "static"):
        channels.append(layers.Embedding(vocabulary_size, embedding_dim, trainable=False,
                                         name="static_embedding")(token_ids))
    if mode in ("multichannel", "non-static", "rand"):
        channels.append(layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(token_ids))
    channels = [layers.Reshape((-1, embedding_dim, 1))(ZeroPaddingVectors()(c, token_ids)) for c in channels]
    x = channels[0] if len(channels) == 1 else layers.Concatenate(axis=-1)(channels)
    x = layers.ZeroPadding2D(((max(widths) - 1, max(widths)), (0, 0)))(x)
    pooled = []
    for w in widths:
        conv = layers.Conv2D(filters, (w, embedding_dim), activation="relu", name=f"conv_{w}")(x)
        pooled.append(layers.GlobalMaxPooling2D()(conv))
    x = layers.Concatenate()(pooled)
    x = layers.Dropout(dropout)(x)
    return keras.Model(token_ids, layers.Dense(num_classes, name="logits")(x), name=name)


def kimcnn_optimizer(learning_rate=1e-3, **kwargs):
    """Adam, as hedwig trains KimCNN."""
    return keras.optimizers.Adam(learning_rate=learning_rate)
