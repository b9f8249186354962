"""Word-level features for students, built on `keras.layers.TextVectorization`."""

import json
import os

import keras
import numpy as np
import tensorflow as tf

VOCAB_FILE = "vocabulary.txt"
IDF_FILE = "idf.txt"
CONFIG_FILE = "tokenizer.json"
MODES = ("int", "tf_idf")


class WordTokenizer:
    """Lower-cased, punctuation-stripped words as ids or as a tf-idf vector.

    `output_mode="int"`: index 0 is padding and index 1 the out-of-vocabulary
    token; at most `sequence_length` ids per document, and batches are padded
    to their longest document (not to `sequence_length`), which keeps batches
    of short documents cheap; students mask the padding.

    `output_mode="tf_idf"`: one float per vocabulary entry (index 0 counts
    out-of-vocabulary words), term count × idf, computed by Keras.

    Args:
        vocabulary: list of words (without the padding and OOV entries).
        sequence_length: maximum ids kept per document (`"int"` mode).
        output_mode: `"int"` or `"tf_idf"`.
        idf_weights: idf per vocabulary word (`"tf_idf"` mode).

    Example:
    >>> tokenizer = WordTokenizer.adapt(["oil prices rose", "wheat exports fell"])
    >>> tokenizer(["oil exports"])  # int32 ids, shape (1, 2)
    """

    def __init__(self, vocabulary, sequence_length=400, output_mode="int", idf_weights=None):
        if output_mode not in MODES:
            raise ValueError(f"output_mode must be one of {MODES}, got {output_mode!r}")
        self.sequence_length = sequence_length
        self.output_mode = output_mode
        if output_mode == "int":
            self.layer = keras.layers.TextVectorization(vocabulary=list(vocabulary), ragged=True)
        else:
            self.layer = keras.layers.TextVectorization(
                vocabulary=list(vocabulary), output_mode="tf_idf", idf_weights=np.asarray(idf_weights, "float32")
            )

    @classmethod
    def adapt(cls, texts, max_tokens=50000, sequence_length=400, output_mode="int"):
        """Learns the most frequent words of `texts` (and their idf in tf-idf mode)."""
        layer = keras.layers.TextVectorization(
            max_tokens=max_tokens, output_mode="tf_idf" if output_mode == "tf_idf" else "int"
        )
        layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
        if output_mode == "tf_idf":
            # Keras keeps the learnt idf on the lookup layer; index 0 is the OOV entry.
            idf = np.asarray(layer._lookup_layer.idf_weights)[1:]
            return cls(layer.get_vocabulary()[1:], sequence_length, output_mode, idf)
        return cls(layer.get_vocabulary()[2:], sequence_length, output_mode)

    @property
    def vocabulary(self):
        skip = 2 if self.output_mode == "int" else 1
        return self.layer.get_vocabulary()[skip:]

    @property
    def vocabulary_size(self):
        """Rows an embedding matrix needs (ids), or the tf-idf vector width."""
        return self.layer.vocabulary_size()

    @property
    def idf_weights(self):
        if self.output_mode != "tf_idf":
            return None
        return np.asarray(self.layer._lookup_layer.idf_weights)[1:]

    def __call__(self, texts):
        if self.output_mode == "tf_idf":
            return self.layer(texts)
        ids = tf.cast(self.layer(texts)[:, : self.sequence_length].to_tensor(), tf.int32)
        # At least one (padding) id per row: a batch of empty texts must not give zero time steps.
        return tf.pad(ids, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(ids)[1])]])

    def save(self, directory):
        """Writes `vocabulary.txt` (+ `idf.txt`) and `tokenizer.json` to `directory`."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, VOCAB_FILE), "w", encoding="utf-8") as f:
            f.write("".join(word + "\n" for word in self.vocabulary))
        config = {
            "output_mode": self.output_mode,
            "sequence_length": self.sequence_length,
            "standardize": "lower_and_strip_punctuation",
            "split": "whitespace",
            "vocabulary_file": VOCAB_FILE,
        }
        if self.output_mode == "int":
            config.update(padding_id=0, oov_id=1)
        else:
            config.update(oov_id=0, idf_file=IDF_FILE)
            np.savetxt(os.path.join(directory, IDF_FILE), self.idf_weights, fmt="%.8g")
        with open(os.path.join(directory, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=2)

    @classmethod
    def load(cls, directory):
        """Rebuilds a tokenizer written by `save`."""
        with open(os.path.join(directory, CONFIG_FILE)) as f:
            config = json.load(f)
        with open(os.path.join(directory, config["vocabulary_file"]), encoding="utf-8") as f:
            vocabulary = [line.rstrip("\n") for line in f]
        idf = None
        if config.get("output_mode", "int") == "tf_idf":
            idf = np.loadtxt(os.path.join(directory, config["idf_file"]), dtype="float32", ndmin=1)
        return cls(vocabulary, config["sequence_length"], config.get("output_mode", "int"), idf)
