"""DocBERT: a BERT encoder with a linear document-classification head."""

import keras

POOLINGS = ("cls", "pooled", "mean")


def pool(sequence_output, padding_mask, pooling, pooled_dense=None):
    """The document vector of a backbone's final hidden states `[batch, length, hidden]`.

    Args:
        sequence_output: the backbone's final hidden states.
        padding_mask: `[batch, length]`, 1 on word pieces, 0 on padding.
        pooling: `"cls"`, `"mean"` or `"pooled"` (see `DocBERT`).
        pooled_dense: the backbone's `pooled_dense` layer (`"pooled"` only).
    """
    if pooling == "pooled":
        return pooled_dense(sequence_output[:, 0, :])
    if pooling == "cls":
        return sequence_output[:, 0, :]
    mask = keras.ops.expand_dims(keras.ops.cast(padding_mask, sequence_output.dtype), -1)
    return keras.ops.sum(sequence_output * mask, axis=1) / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="kdkeras")
class DocBERT(keras.Model):
    """BERT [CLS] vector → dropout → dense logits over K classes (Adhikari et al. 2019).

    The model takes the dict a `keras_hub.models.BertTextClassifierPreprocessor`
    produces (`token_ids`, `segment_ids`, `padding_mask`) and returns logits.
    Train with `BinaryCrossentropy(from_logits=True)` for multi-label data and
    `SparseCategoricalCrossentropy(from_logits=True)` for single-label data.

    Args:
        backbone: a `keras_hub.models.BertBackbone`.
        num_classes: number of output classes K.
        dropout: dropout rate on the [CLS] vector.
        pooling: `"cls"` uses the final hidden state of [CLS] (default, the
            paper's); `"pooled"` uses BERT's tanh pooler on it, as
            HuggingFace's `BertForSequenceClassification` (and hedwig's
            DocBERT) do; `"mean"` averages the final hidden states of the
            document's word pieces (padding excluded), the pooling
            sentence-transformers checkpoints such as all-MiniLM-L6-v2 were
            trained with.

    Example:
    >>> backbone, preprocessor = kdkeras.models.load_backbone("minilm", 128)
    >>> teacher = DocBERT(backbone, num_classes=90)
    >>> logits = teacher(preprocessor(["Oil prices rose sharply."]))
    """

    def __init__(self, backbone, num_classes, dropout=0.1, pooling="cls", **kwargs):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        inputs = backbone.input
        outputs = backbone(inputs)
        if pooling == "pooled":
            x = outputs["pooled_output"]
        else:
            backbone.get_layer("pooled_dense").trainable = False  # unused: no gradient
            x = pool(outputs["sequence_output"], inputs["padding_mask"], pooling)
        x = keras.layers.Dropout(dropout, name="classifier_dropout")(x)
        logits = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="logits",
        )(x)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        self.num_classes = num_classes
        self.dropout = dropout
        self.pooling = pooling

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "pooling": self.pooling,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
