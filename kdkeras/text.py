"""Word-level tokenisation for students, built on `keras.layers.TextVectorization`."""

import json
import os

import keras
import tensorflow as tf

VOCAB_FILE = "vocabulary.txt"
CONFIG_FILE = "tokenizer.json"


class WordTokenizer:
    """Lower-cased, punctuation-stripped word ids, truncated to `sequence_length`.

    Index 0 is padding and index 1 the out-of-vocabulary token. Batches are
    padded to their longest document (not to `sequence_length`), which keeps
    batches of short documents cheap; students mask the padding.

    Args:
        vocabulary: list of words (without the padding and OOV entries).
        sequence_length: maximum tokens kept per document.

    Example:
    >>> tokenizer = WordTokenizer.adapt(["oil prices rose", "wheat exports fell"])
    >>> tokenizer(["oil exports"])  # int32 ids, shape (1, 2)
    """

    def __init__(self, vocabulary, sequence_length=400):
        self.sequence_length = sequence_length
        self.layer = keras.layers.TextVectorization(vocabulary=list(vocabulary), ragged=True)

    @classmethod
    def adapt(cls, texts, max_tokens=50000, sequence_length=400):
        """Learns the `max_tokens - 2` most frequent words of `texts`."""
        layer = keras.layers.TextVectorization(max_tokens=max_tokens)
        layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
        return cls(layer.get_vocabulary()[2:], sequence_length)

    @property
    def vocabulary(self):
        return self.layer.get_vocabulary()[2:]

    @property
    def vocabulary_size(self):
        """Rows an embedding matrix needs (vocabulary + padding + OOV)."""
        return self.layer.vocabulary_size()

    def __call__(self, texts):
        ids = self.layer(texts)[:, : self.sequence_length]
        return tf.cast(ids.to_tensor(), tf.int32)

    def save(self, directory):
        """Writes `vocabulary.txt` and `tokenizer.json` to `directory`."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, VOCAB_FILE), "w", encoding="utf-8") as f:
            f.write("".join(word + "\n" for word in self.vocabulary))
        with open(os.path.join(directory, CONFIG_FILE), "w") as f:
            json.dump(
                {
                    "sequence_length": self.sequence_length,
                    "standardize": "lower_and_strip_punctuation",
                    "split": "whitespace",
                    "padding_id": 0,
                    "oov_id": 1,
                    "vocabulary_file": VOCAB_FILE,
                },
                f,
                indent=2,
            )

    @classmethod
    def load(cls, directory):
        """Rebuilds a tokenizer written by `save`."""
        with open(os.path.join(directory, CONFIG_FILE)) as f:
            config = json.load(f)
        with open(os.path.join(directory, config["vocabulary_file"]), encoding="utf-8") as f:
            vocabulary = [line.rstrip("\n") for line in f]
        return cls(vocabulary, config["sequence_length"])
