"""Word-level features for students, built on `keras.layers.TextVectorization`.

A document is standardised, then split on whitespace into words. Two
standardisations (`standardize=`):

- `"lower_and_split_punctuation"` (the default): ASCII letters are
  lower-cased (`tf.strings.lower`) and each ASCII punctuation character
  (`kdkeras.runtime.PUNCTUATION_REGEX`, Keras' set) becomes a space, so
  `"5.93"` gives the words `"5"` and `"93"`, `"farmer-owned"` gives
  `"farmer"` and `"owned"`.
- `"lower_and_strip_punctuation"`: Keras' own, which deletes punctuation
  (`"593"`, `"farmerowned"`, `"155,221"` → `"155221"`), and so makes many
  rare number and compound types. Tokenizers saved before the split existed
  load with it.

`kdkeras.runtime.NumpyTokenizer` gives the same features without TensorFlow.

Example:
>>> WordTokenizer.adapt(["Prices rose 5.93 pct."]).vocabulary
['rose', 'prices', 'pct', '93', '5']
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from kdkeras.runtime import PUNCTUATION_REGEX, STANDARDIZATIONS, idf_with_oov_bucket, read_tokenizer_files

VOCAB_FILE = "vocabulary.txt"
IDF_FILE = "idf.txt"
CONFIG_FILE = "tokenizer.json"
MODES = ("int", "tf_idf")


def _lower_and_split_punctuation(texts):
    """ASCII lower-casing, then a space in place of each punctuation character."""
    return tf.strings.regex_replace(tf.strings.lower(texts), PUNCTUATION_REGEX, " ")


def _keras_standardize(standardize):
    """The `TextVectorization(standardize=...)` argument for a name of `STANDARDIZATIONS`."""
    if standardize not in STANDARDIZATIONS:
        raise ValueError(f"standardize must be one of {STANDARDIZATIONS}, got {standardize!r}")
    return _lower_and_split_punctuation if standardize == "lower_and_split_punctuation" else standardize


class WordTokenizer:
    """Lower-cased words as ids or as a tf-idf vector.

    `output_mode="int"`: index 0 is padding and index 1 the out-of-vocabulary
    token; at most `sequence_length` ids per document, and batches are padded
    to their longest document (not to `sequence_length`), which keeps batches
    of short documents cheap; students mask the padding.

    `output_mode="tf_idf"`: one float per vocabulary entry (index 0 counts
    out-of-vocabulary words, with the mean idf, as in Keras), tf × idf. With
    `sublinear_tf=True` tf is `1 + ln(count)` for the words that occur (as
    scikit-learn's `TfidfVectorizer(sublinear_tf=True)`), otherwise the
    count (Keras' `output_mode="tf_idf"`).

    Args:
        vocabulary: list of words (without the padding and OOV entries).
        sequence_length: maximum ids kept per document (`"int"` mode).
        output_mode: `"int"` or `"tf_idf"`.
        idf_weights: idf per vocabulary word (`"tf_idf"` mode).
        standardize: `"lower_and_split_punctuation"` or
            `"lower_and_strip_punctuation"` (see the module docstring).
        sublinear_tf: `"tf_idf"` mode: `1 + ln(count)` instead of the count.

    Example:
    >>> tokenizer = WordTokenizer.adapt(["oil prices rose", "wheat exports fell"])
    >>> tokenizer(["oil exports"])  # int32 ids, shape (1, 2)
    >>> tfidf = WordTokenizer.adapt(["oil prices rose", "wheat exports fell"], output_mode="tf_idf")
    >>> tfidf(["oil, oil and wheat-exports"])  # float32, shape (1, 7)
    """

    def __init__(self, vocabulary, sequence_length=400, output_mode="int", idf_weights=None,
                 standardize="lower_and_split_punctuation", sublinear_tf=True):
        if output_mode not in MODES:
            raise ValueError(f"output_mode must be one of {MODES}, got {output_mode!r}")
        self.sequence_length = sequence_length
        self.output_mode = output_mode
        self.standardize = standardize
        self.sublinear_tf = bool(sublinear_tf)
        # tf-idf: Keras counts, `__call__` weights them (Keras' "tf_idf" mode has no sublinear tf).
        self.layer = keras.layers.TextVectorization(
            vocabulary=list(vocabulary),
            standardize=_keras_standardize(standardize),
            output_mode="int" if output_mode == "int" else "count",
            ragged=output_mode == "int",
        )
        self._idf = None
        if output_mode == "tf_idf":
            self._idf = tf.constant(idf_with_oov_bucket(idf_weights, self.layer.vocabulary_size() - 1))

    @classmethod
    def adapt(cls, texts, max_tokens=50000, sequence_length=400, output_mode="int",
              standardize="lower_and_split_punctuation", sublinear_tf=True):
        """Learns the most frequent words of `texts` (and, in tf-idf mode, Keras' idf of them)."""
        layer = keras.layers.TextVectorization(
            max_tokens=max_tokens,
            standardize=_keras_standardize(standardize),
            output_mode="tf_idf" if output_mode == "tf_idf" else "int",
        )
        layer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
        if output_mode == "tf_idf":
            # Keras keeps the learnt idf on the lookup layer; index 0 is the OOV entry.
            idf = np.asarray(layer._lookup_layer.idf_weights)[1:]
            return cls(layer.get_vocabulary()[1:], sequence_length, output_mode, idf, standardize, sublinear_tf)
        return cls(layer.get_vocabulary()[2:], sequence_length, output_mode, standardize=standardize)

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
        return self._idf.numpy()[1:]

    def __call__(self, texts):
        if self.output_mode == "tf_idf":
            counts = tf.cast(self.layer(texts), tf.float32)  # Keras counts in int64
            if self.sublinear_tf:
                counts = tf.where(counts > 0, 1.0 + tf.math.log(counts), 0.0)
            return counts * self._idf
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
            "standardize": self.standardize,
            "split": "whitespace",
            "vocabulary_file": VOCAB_FILE,
        }
        if self.output_mode == "int":
            config.update(padding_id=0, oov_id=1)
        else:
            config.update(oov_id=0, idf_file=IDF_FILE, sublinear_tf=self.sublinear_tf)
            np.savetxt(os.path.join(directory, IDF_FILE), self.idf_weights, fmt="%.8g")
        with open(os.path.join(directory, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=2)

    @classmethod
    def load(cls, directory):
        """Rebuilds a tokenizer written by `save`."""
        return cls(*read_tokenizer_files(directory))
