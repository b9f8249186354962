"""A teacher with a frozen bottom, fine-tuned on its cached hidden states.

When a DocBERT teacher's embeddings and its first `k` transformer layers
are frozen (`kdkeras.models.backbones.freeze`), their output for a document
never changes during fine-tuning. Here it is computed once per document
(`cache`), and training runs only the trainable top (`top_model`: layers
`k` … `n − 1`, pooling, dropout, logits) on it, epoch after epoch. With 4 of
MiniLM-L6's 6 layers frozen and 6 epochs, a step runs 2 layers forward
instead of 6 (plus the same backward), for one extra pass over the
documents in all.

The top model shares its layers with the teacher: training it trains the
teacher, which is saved and used as usual. One difference from training the
whole teacher with frozen layers: the frozen layers run in inference mode,
without their dropout (their weights are fixed; the trained layers keep theirs).

Example:
>>> depth = frozen_depth(teacher.backbone)  # 4
>>> hidden = cache(bottom_model(teacher.backbone, depth), buckets.encode(texts, preprocessor))
>>> top = top_model(teacher, depth)
>>> logits = top.predict_on_batch(hidden.batch(range(16)))
"""

import numpy as np

import keras

from kdkeras import buckets
from kdkeras.models.backbones import EMBEDDING_LAYERS
from kdkeras.models.docbert import pool

HIDDEN = "hidden"


def frozen_depth(backbone):
    """How many transformer layers from the bottom are frozen together with the embeddings (0: the embeddings train)."""
    if any(backbone.get_layer(name).trainable for name in EMBEDDING_LAYERS):
        return 0
    depth = 0
    while depth < backbone.num_layers and not backbone.get_layer(f"transformer_layer_{depth}").trainable:
        depth += 1
    return depth


def bottom_model(backbone, layers):
    """The backbone's embeddings and first `layers` transformer layers: BERT inputs → hidden states `[b, l, h]`.

    Shares its layers (and weights) with `backbone`. Meant for inference:
    the embeddings' dropout is left out.
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
    padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
    tokens = backbone.get_layer("token_embedding")(token_ids)
    x = backbone.get_layer("embeddings_add")((
        tokens, backbone.get_layer("position_embedding")(tokens), backbone.get_layer("segment_embedding")(segment_ids)))
    x = backbone.get_layer("embeddings_layer_norm")(x)
    for i in range(layers):
        x = backbone.get_layer(f"transformer_layer_{i}")(x, padding_mask=padding_mask)
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    return keras.Model(inputs, x, name=f"{backbone.name}_bottom{layers}")


def top_model(teacher, layers):
    """A DocBERT teacher above its first `layers` transformer layers: `{"hidden", "padding_mask"}` → logits.

    Shares its layers (and weights) with `teacher`, so training it trains
    the teacher.

    Args:
        teacher: a `kdkeras.models.DocBERT`.
        layers: transformer layers below the top (the cached ones).
    """
    backbone = teacher.backbone
    hidden = keras.Input(shape=(None, backbone.hidden_dim), name=HIDDEN)
    padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
    x = hidden
    for i in range(layers, backbone.num_layers):
        x = backbone.get_layer(f"transformer_layer_{i}")(x, padding_mask=padding_mask)
    x = pool(x, padding_mask, teacher.pooling, backbone.get_layer("pooled_dense"))
    x = teacher.get_layer("classifier_dropout")(x)
    logits = teacher.get_layer("logits")(x)
    return keras.Model({HIDDEN: hidden, "padding_mask": padding_mask}, logits, name=f"{teacher.name}_top{layers}")


def cache_bytes(encoded, hidden_dim):
    """Bytes the float32 hidden states of `encoded` documents take (`cache`)."""
    return len(encoded) * encoded.inputs["padding_mask"].shape[1] * hidden_dim * 4


def cache(bottom, encoded, batch_size=64):
    """The hidden states of `bottom` for `encoded` documents, as an `Encoded` a top model reads.

    Documents run in length-sorted batches cut to the bucket of their
    longest document (as in inference); each document's states are stored
    at its full `sequence_length`, zero past that cut, so the result is
    batched and cut like the token ids it replaces (padding is masked).

    Args:
        bottom: from `bottom_model`.
        encoded: `kdkeras.buckets.Encoded` documents.
        batch_size: documents per forward pass.

    Returns:
        A `kdkeras.buckets.Encoded` with inputs `{"hidden": float32 [n, l, h], "padding_mask"}`.
    """
    mask = encoded.inputs["padding_mask"]
    hidden = np.zeros((*mask.shape, bottom.output_shape[-1]), "float32")
    for indices in buckets.inference_batches(encoded, batch_size):
        states = np.asarray(bottom.predict_on_batch(encoded.batch(indices)))
        hidden[indices, :states.shape[1]] = states
    return buckets.Encoded({HIDDEN: hidden, "padding_mask": mask}, encoded.lengths, encoded.buckets)
