"""Export of students for serving: a SavedModel that takes raw strings."""

import keras
import tensorflow as tf


def export_saved_model(student, tokenizer, multi_label, path, pad_to_sequence_length=False):
    """Writes a SavedModel whose `serving_default` maps raw strings to probabilities.

    Tokenisation runs inside the graph (the tokenizer's `TextVectorization`),
    followed by the student and a sigmoid (multi-label) or softmax
    (single-label).

    Students do not depend on how far a batch is padded (the reg-LSTM masks
    padding, KimCNN zeroes it), so by default each batch is padded to its
    longest document; `pad_to_sequence_length=True` pads every batch to the
    tokenizer's `sequence_length`, the fixed input of the `.tflite` export.

    Args:
        student: Keras model mapping the tokenizer's features (ids or
            tf-idf) to logits.
        tokenizer: the `kdkeras.text.WordTokenizer` it was trained with.
        multi_label: sigmoid (True) or softmax (False) outputs.
        path: output directory.
        pad_to_sequence_length: pad ids to `tokenizer.sequence_length`
            (`"int"` tokenizers; tf-idf vectors have a fixed width anyway).

    Example:
    >>> export_saved_model(student, tokenizer, True, "saved_model")
    >>> tf.saved_model.load("saved_model").signatures["serving_default"](
    ...     texts=tf.constant(["oil prices rose"]))["probabilities"]
    """
    activation = tf.sigmoid if multi_label else tf.nn.softmax
    pad = pad_to_sequence_length and tokenizer.output_mode == "int"
    length = tokenizer.sequence_length
    archive = keras.export.ExportArchive()
    archive.track(student)
    tokenizer(tf.constant([""]))  # builds the lookup table
    archive.track(tokenizer.layer)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(texts):
        features = tokenizer(texts)
        if pad:
            features = tf.pad(features, [[0, 0], [0, length - tf.shape(features)[1]]])
            features = tf.ensure_shape(features, [None, length])
        logits = student(features, training=False)
        return {"probabilities": activation(logits)}

    archive.add_endpoint("serve", serve)
    archive.write_out(path, verbose=False)
    return path
