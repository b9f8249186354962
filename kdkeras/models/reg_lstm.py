"""Regularised bidirectional LSTM document classifier (Adhikari et al., NAACL 2019).

The model follows hedwig's reg-LSTM: word embeddings with embedding dropout
(whole word types dropped), one bidirectional LSTM layer whose recurrent
(hidden-to-hidden) kernel is regularised with DropConnect ("weight drop"),
ReLU and max-pooling over time, dropout, and a dense layer to logits.
Temporal averaging of weights (an exponential moving average, beta 0.99) is
done by the optimizer: see `reg_lstm_optimizer`.
"""

import keras
from keras import layers, ops

from kdkeras.embeddings import initializer

# The layers that carry the weights, in order: readers of a trained student (the TFLite export) find them by name.
LAYER_NAMES = ("embedding", "bilstm", "logits")


@keras.saving.register_keras_serializable(package="kdkeras")
class EmbeddingDropout(layers.Layer):
    """Drops entire word types from an embedding lookup (Gal & Ghahramani 2016).

    During training each vocabulary row is zeroed with probability `rate`
    (the same mask for every occurrence of a word in the batch) and the kept
    rows are scaled by `1 / (1 - rate)`.

    Args:
        vocabulary_size: number of rows of the embedding matrix.
        rate: probability of dropping a word type.
        seed: seed of the dropout mask.

    Example:
    >>> drop = EmbeddingDropout(vocabulary_size=1000, rate=0.1)
    >>> y = drop([embeddings, token_ids], training=True)
    """

    def __init__(self, vocabulary_size, rate=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        embeddings, token_ids = inputs
        if not training or self.rate <= 0:
            return embeddings
        keep = keras.random.dropout(
            ops.ones((self.vocabulary_size, 1), dtype=embeddings.dtype),
            self.rate,
            seed=self.seed_generator,
        )
        return embeddings * ops.take(keep, token_ids, axis=0)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary_size=self.vocabulary_size, rate=self.rate, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="kdkeras")
class MaskedMaxOverTime(layers.Layer):
    """Max over time of non-negative features, ignoring padded steps (zeroed)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        return ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="kdkeras")
class WeightDropLSTMCell(layers.LSTMCell):
    """An `LSTMCell` that can run with a DropConnect-ed recurrent kernel.

    The owning `WeightDropLSTM` layer samples the dropped kernel once per
    forward pass and sets it on the cell, so every time step of a sequence
    uses the same mask (Merity et al. 2018).
    """

    def __init__(self, units, **kwargs):
        kwargs["implementation"] = 2
        super().__init__(units, **kwargs)
        self.dropped_recurrent_kernel = None

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        recurrent_kernel = self.recurrent_kernel
        if training and self.dropped_recurrent_kernel is not None:
            recurrent_kernel = self.dropped_recurrent_kernel
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_tm1, recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        c, o = self._compute_carry_and_output_fused(ops.split(z, 4, axis=1), c_tm1)
        h = o * self.activation(c)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="kdkeras")
class WeightDropLSTM(layers.RNN):
    """LSTM layer with weight drop on the hidden-to-hidden kernel.

    Args:
        units: hidden size.
        weight_drop: DropConnect rate on the recurrent kernel (0 disables).
        seed: seed of the weight-drop mask.
        **kwargs: passed to `keras.layers.RNN` (`return_sequences`,
            `go_backwards`, ...).

    Example:
    >>> lstm = WeightDropLSTM(64, weight_drop=0.1, return_sequences=True)
    >>> outputs = lstm(keras.ops.ones((2, 7, 16)), training=True)
    """

    def __init__(self, units, weight_drop=0.0, seed=None, **kwargs):
        super().__init__(WeightDropLSTMCell(units), **kwargs)
        self.units = units
        self.weight_drop = weight_drop
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if training and self.weight_drop > 0:
            self.cell.dropped_recurrent_kernel = keras.random.dropout(
                self.cell.recurrent_kernel, self.weight_drop, seed=self.seed_generator
            )
        try:
            return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        finally:
            self.cell.dropped_recurrent_kernel = None

    def get_config(self):
        config = super().get_config()
        config.pop("cell", None)
        config.update(units=self.units, weight_drop=self.weight_drop, seed=self.seed)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("cell", None)
        return cls(**config)


def build_reg_lstm(
    vocabulary_size,
    num_classes,
    sequence_length=None,
    embedding_dim=300,
    hidden_dim=512,
    embedding_dropout=0.2,
    weight_drop=0.1,
    dropout=0.5,
    embeddings=None,
    trainable_embeddings=True,
    seed=None,
    name="reg_lstm",
):
    """Builds the reg-LSTM student: token ids in, logits out.

    Args:
        vocabulary_size: rows of the embedding matrix (index 0 is padding).
        num_classes: number of output logits.
        sequence_length: fixed input length, or None for variable length.
        embedding_dim: word-vector size (300 in the paper).
        hidden_dim: LSTM units per direction (512 in the paper).
        embedding_dropout: rate of dropping whole word types.
        weight_drop: DropConnect rate on the recurrent kernel.
        dropout: dropout before the output layer.
        embeddings: optional `(vocabulary_size, embedding_dim)` initial vectors.
        trainable_embeddings: False freezes the embeddings ("static").
        seed: seed for initialisers and dropout masks.
        name: model name.

    Returns:
        A functional `keras.Model` mapping int token ids to logits.

    Example:
    >>> model = build_reg_lstm(vocabulary_size=20000, num_classes=90, hidden_dim=128)
    >>> logits = model(keras.ops.ones((4, 50), dtype="int32"))
    """
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    init = initializer(embeddings, seed)
    x = layers.Embedding(
        vocabulary_size, embedding_dim, embeddings_initializer=init, mask_zero=True,
        trainable=trainable_embeddings, name=LAYER_NAMES[0],
    )(token_ids)
    x = EmbeddingDropout(vocabulary_size, embedding_dropout, seed=seed, name="embedding_dropout")(
        [x, token_ids]
    )
    lstm = WeightDropLSTM(hidden_dim, weight_drop=weight_drop, seed=seed, return_sequences=True)
    x = layers.Bidirectional(lstm, name=LAYER_NAMES[1])(x)
    x = layers.ReLU()(x)
    x = MaskedMaxOverTime(name="max_over_time")(x)
    x = layers.Dropout(dropout, seed=seed)(x)
    logits = layers.Dense(num_classes, name=LAYER_NAMES[2])(x)
    return keras.Model(token_ids, logits, name=name)


def reg_lstm_optimizer(learning_rate=1e-3, ema_momentum=0.99, use_ema=True, **kwargs):
    """Adam with temporal averaging of weights (EMA), as in hedwig's reg-LSTM.

    Pair it with `keras.callbacks.SwapEMAWeights(swap_on_epoch=True)` so that
    evaluation and checkpoints use the averaged weights.
    """
    return keras.optimizers.Adam(
        learning_rate=learning_rate, use_ema=use_ema, ema_momentum=ema_momentum
    )
