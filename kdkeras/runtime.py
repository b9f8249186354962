"""On-device text features with NumPy and the standard library only.

`NumpyTokenizer` reads the files `kdkeras.text.WordTokenizer.save` writes and
turns raw strings into the same word ids or tf-idf vectors as the Keras
tokenizer, token for token, without importing TensorFlow. It is the
tokeniser that runs next to a `.tflite` student (TFLite has no string ops).

The Keras tokenizer standardises each document, then splits it on
whitespace, working on UTF-8 bytes, and this module does the same:

- `tf.strings.lower` as Keras calls it (no `encoding`) lower-cases ASCII
  letters only: `"ÉCOLE"` becomes `"École"`, not `"école"`. `bytes.lower`
  does exactly that.
- Punctuation is what Keras' regex `PUNCTUATION_REGEX`,
  `[!"#$%&()\\*\\+,-\\./:;<=>?@\\[\\\\\\]^_`{|}~\\']`, matches: ASCII
  characters only, so matching bytes or code points is the same.
  `standardize="lower_and_split_punctuation"` (the default) replaces each
  punctuation character with a space (`"5.93"` gives the words `"5"` and
  `"93"`, `"farmer-owned"` gives `"farmer"` and `"owned"`);
  `"lower_and_strip_punctuation"`, Keras' own standardisation and that of
  tokenizers saved before the split existed, deletes it (`"593"`,
  `"farmerowned"`).
- `tf.strings.split` splits on runs of ASCII whitespace (space, `\\t`, `\\n`,
  `\\v`, `\\f`, `\\r`) and drops empty pieces; Unicode spaces (`\\xa0`,
  `\\u2003`, ...) and `\\x1c`-`\\x1f` stay inside words. `bytes.split()` does
  exactly that (`str.split()` would not).
"""

import json
import os
import re

import numpy as np

CONFIG_FILE = "tokenizer.json"
STANDARDIZATIONS = ("lower_and_split_punctuation", "lower_and_strip_punctuation")

# keras/src/layers/preprocessing/text_vectorization.py, `_preprocess`
# (standardize="lower_and_strip_punctuation"); RE2 and `re` read it alike.
PUNCTUATION_REGEX = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
_PUNCTUATION = re.compile(PUNCTUATION_REGEX.encode())
# What each standardisation puts in place of a punctuation character.
_REPLACEMENTS = dict(zip(STANDARDIZATIONS, (b" ", b"")))


def _words(text, replacement):
    """Keras' standardize + split of one document, as a list of UTF-8 byte strings."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    elif not isinstance(text, bytes):
        raise TypeError(f"expected str or bytes, got {type(text).__name__}")
    return _PUNCTUATION.sub(replacement, text.lower()).split()


def idf_with_oov_bucket(idf_weights, num_words):
    """The idf of every tf-idf feature: the out-of-vocabulary bucket (index 0), then the words.

    Keras gives the bucket `np.average` of the words' idf; both tokenizers do the same.

    Raises:
        ValueError: the number of weights is not `num_words`.
    """
    idf = np.asarray(idf_weights, "float32").reshape(-1)
    if idf.shape[0] != num_words:
        raise ValueError(f"{idf.shape[0]} idf weights for {num_words} words")
    return np.concatenate([np.asarray([np.average(idf)], "float32"), idf])


def read_tokenizer_files(directory):
    """The settings `WordTokenizer.save` wrote to `directory`, checked.

    Returns:
        `(vocabulary, sequence_length, output_mode, idf_weights, standardize,
        sublinear_tf)`, the arguments of `NumpyTokenizer` and
        `kdkeras.text.WordTokenizer`.

    Raises:
        ValueError: a standardisation or split neither tokenizer implements.
    """
    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = json.load(f)
    # Files written before these keys existed: Keras' standardisation, raw counts.
    standardize = config.get("standardize", "lower_and_strip_punctuation")
    if standardize not in STANDARDIZATIONS:
        raise ValueError(f"{directory}: unsupported standardize {standardize!r}")
    if config.get("split", "whitespace") != "whitespace":
        raise ValueError(f"{directory}: unsupported split {config['split']!r}")
    with open(os.path.join(directory, config["vocabulary_file"]), encoding="utf-8") as f:
        vocabulary = [line.rstrip("\n") for line in f]
    mode = config.get("output_mode", "int")
    idf = None
    if mode == "tf_idf":
        idf = np.loadtxt(os.path.join(directory, config["idf_file"]), dtype="float32", ndmin=1)
    return vocabulary, config["sequence_length"], mode, idf, standardize, config.get("sublinear_tf", False)


class NumpyTokenizer:
    """Word ids or tf-idf vectors from raw strings, identical to `WordTokenizer`.

    `output_mode="int"`: id 0 is padding, 1 out-of-vocabulary, vocabulary word
    `i` gets id `i + 2`; at most `sequence_length` ids per document.
    `output_mode="tf_idf"`: one float32 per vocabulary entry plus the
    out-of-vocabulary bucket at index 0, tf × idf, where tf is
    `1 + ln(count)` for words that occur (`sublinear_tf=True`) or the count;
    the OOV idf is the mean of the vocabulary idf, as in Keras.

    Args:
        vocabulary: list of words (without the padding and OOV entries).
        sequence_length: maximum ids kept per document (`"int"` mode).
        output_mode: `"int"` or `"tf_idf"`.
        idf_weights: idf per vocabulary word (`"tf_idf"` mode).
        standardize: `"lower_and_split_punctuation"` or
            `"lower_and_strip_punctuation"` (see the module docstring).
        sublinear_tf: `"tf_idf"` mode: `1 + ln(count)` instead of the count.

    Example:
    >>> tokenizer = NumpyTokenizer.load("bundle/tokenizer")
    >>> tokenizer(["Oil prices rose."], length=400)  # int32, shape (1, 400)
    """

    def __init__(self, vocabulary, sequence_length=400, output_mode="int", idf_weights=None,
                 standardize="lower_and_split_punctuation", sublinear_tf=True):
        if output_mode not in ("int", "tf_idf"):
            raise ValueError(f"output_mode must be 'int' or 'tf_idf', got {output_mode!r}")
        if standardize not in STANDARDIZATIONS:
            raise ValueError(f"standardize must be one of {STANDARDIZATIONS}, got {standardize!r}")
        self.vocabulary = list(vocabulary)
        self.sequence_length = int(sequence_length)
        self.output_mode = output_mode
        self.standardize = standardize
        self.sublinear_tf = bool(sublinear_tf)
        self._replacement = _REPLACEMENTS[standardize]
        offset = 2 if output_mode == "int" else 1
        self._ids = {}
        for i, word in enumerate(self.vocabulary):
            self._ids.setdefault(word.encode("utf-8"), i + offset)
        self.oov_id = 1 if output_mode == "int" else 0
        self.idf = None
        if output_mode == "tf_idf":
            self.idf = idf_with_oov_bucket(idf_weights, len(self.vocabulary))

    @classmethod
    def load(cls, directory):
        """Reads `vocabulary.txt`, `idf.txt` and `tokenizer.json` written by `WordTokenizer.save`."""
        return cls(*read_tokenizer_files(directory))

    @property
    def vocabulary_size(self):
        """Rows an embedding matrix needs (ids), or the tf-idf vector width."""
        return len(self.vocabulary) + (2 if self.output_mode == "int" else 1)

    def tokenize(self, text):
        """The words of one document after standardisation, as `str`."""
        return [w.decode("utf-8", "replace") for w in _words(text, self._replacement)]

    def ids(self, text):
        """Word ids of one document (no padding, truncated to `sequence_length`)."""
        if self.output_mode != "int":
            raise ValueError("ids() needs output_mode='int'")
        lookup, oov = self._ids.get, self.oov_id
        return [lookup(w, oov) for w in _words(text, self._replacement)[: self.sequence_length]]

    def terms(self, text):
        """The distinct tf-idf features of one document, for a sparse-input `.tflite` (`"tf_idf"` mode).

        Returns:
            `(ids, values)`: int32 feature indices in increasing order (0 is
            the out-of-vocabulary bucket) and their float32 tf × idf values,
            the nonzero entries of `self([text])[0]`; `([0], [0.0])` for a
            document without words.
        """
        if self.output_mode != "tf_idf":
            raise ValueError("terms() needs output_mode='tf_idf'")
        lookup = self._ids.get
        ids = np.fromiter((lookup(w, 0) for w in _words(text, self._replacement)), dtype=np.int64)
        if not ids.size:
            return np.zeros(1, "int32"), np.zeros(1, "float32")
        ids, counts = np.unique(ids, return_counts=True)
        counts = counts.astype("float32")
        if self.sublinear_tf:
            counts = 1 + np.log(counts)
        return ids.astype("int32"), counts * self.idf[ids]

    def __call__(self, texts, length=None):
        """Features of a batch of documents.

        Args:
            texts: a string, or a list of `str` / UTF-8 `bytes`.
            length: `"int"` mode: pad (with 0) every row to this many ids;
                None pads to the longest document of the batch (at least
                one id), like the Keras tokenizer. Ignored in `"tf_idf"` mode.

        Returns:
            int32 array `(batch, length)` of ids, or float32 array
            `(batch, vocabulary_size)` of tf-idf values.
        """
        if isinstance(texts, (str, bytes)):
            texts = [texts]
        if self.output_mode == "tf_idf":
            out = np.zeros((len(texts), self.vocabulary_size), "float32")
            lookup = self._ids.get
            for row, text in enumerate(texts):
                ids = np.fromiter((lookup(w, 0) for w in _words(text, self._replacement)), dtype=np.int64)
                counts = np.bincount(ids, minlength=self.vocabulary_size).astype("float32")
                if self.sublinear_tf:
                    seen = counts > 0
                    counts[seen] = 1 + np.log(counts[seen])
                out[row] = counts * self.idf
            return out
        rows = [self.ids(text) for text in texts]
        # Like Keras: the longest document, and at least one (padding) id when there are documents.
        if length is not None:
            width = int(length)
        else:
            width = max([1] + [len(r) for r in rows]) if rows else 0
        out = np.zeros((len(rows), width), "int32")
        for i, r in enumerate(rows):
            r = r[:width]
            out[i, : len(r)] = r
        return out
