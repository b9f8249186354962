"""Export of students for serving: a SavedModel that takes raw strings."""

import keras
import tensorflow as tf


def export_saved_model(student, tokenizer, multi_label, path):
    """Writes a SavedModel whose `serving_default` maps raw strings to probabilities.

    Tokenisation runs inside the graph (the tokenizer's `TextVectorization`),
    followed by the student and a sigmoid (multi-label) or softmax
    (single-label).

    Args:
        student: Keras model mapping int token ids to logits.
        tokenizer: the `kdkeras.text.WordTokenizer` it was trained with.
        multi_label: sigmoid (True) or softmax (False) outputs.
        path: output directory.

    Example:
    >>> export_saved_model(student, tokenizer, True, "saved_model")
    >>> tf.saved_model.load("saved_model").signatures["serving_default"](
    ...     texts=tf.constant(["oil prices rose"]))["probabilities"]
    """
    activation = tf.sigmoid if multi_label else tf.nn.softmax
    archive = keras.export.ExportArchive()
    archive.track(student)
    tokenizer(tf.constant([""]))  # builds the lookup table
    archive.track(tokenizer.layer)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(texts):
        logits = student(tokenizer(texts), training=False)
        return {"probabilities": activation(logits)}

    archive.add_endpoint("serve", serve)
    archive.write_out(path, verbose=False)
    return path
