"""Logistic regression on tf-idf features, as a Keras model so it can be distilled."""

import keras
from keras import layers


def build_tfidf_lr(vocabulary_size, num_classes, l2=0.0, seed=None, name="tfidf_lr"):
    """Builds a linear classifier over L2-normalised tf-idf vectors.

    The tf-idf features come from `keras.layers.TextVectorization(output_mode="tf_idf")`
    (see `kdkeras.text.WordTokenizer(output_mode="tf_idf")`); with sigmoid
    outputs trained with BCE this is one-vs-rest logistic regression, with
    softmax and CE multinomial logistic regression.

    Args:
        vocabulary_size: width of the tf-idf vector.
        num_classes: number of output logits.
        l2: L2 penalty on the weights.
        seed: initialiser seed.
        name: model name.

    Example:
    >>> model = build_tfidf_lr(vocabulary_size=30000, num_classes=90)
    >>> logits = model(tf_idf_batch)
    """
    features = keras.Input(shape=(vocabulary_size,), name="tf_idf")
    x = layers.UnitNormalization(name="l2_normalise")(features)
    logits = layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
        name="logits",
    )(x)
    return keras.Model(features, logits, name=name)


def tfidf_lr_optimizer(learning_rate=2e-2, updates=None, **kwargs):
    """Adam whose step decays to 0 over the training (cosine), so the convex model settles at its optimum.

    Args:
        learning_rate: initial step.
        updates: length of the training in updates (None: constant step).
    """
    if updates:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=int(updates))
    return keras.optimizers.Adam(learning_rate=learning_rate)
