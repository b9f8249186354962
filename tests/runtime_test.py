"""NumpyTokenizer reproduces the Keras WordTokenizer token for token, without TensorFlow."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kdkeras.data.hedwig import read_split
from kdkeras.runtime import NumpyTokenizer
from kdkeras.text import WordTokenizer

REUTERS = os.path.join(os.path.dirname(__file__), "..", "kdkeras", "data", "vendored", "reuters")

TRICKY = [
    "ÉCOLE École école",  # Keras lower-cases ASCII only: "École" stays
    "İSTANBUL İstanbul ΣΑΣ σας Straße STRASSE ǅungla ﬁne Ⅷ ＡＢＣ",
    "cafe\u0301 café naïve Ångström ÆØÅ",
    "a\x1cb\x1dc\x1ed\x1fe",  # not whitespace for tf.strings.split
    "a\xa0b a\u2003b a\u3000b a\x85b a\u2028b",  # Unicode spaces stay inside words
    "tabs\tand\nnew\r\nlines\x0bvertical\x0cfeed   runs",
    "it's -- a.b,c!!!...x (U.S.) $1,000.50 50% e-mail [UNK] <b>bold</b> x_y \\back`tick~",
    "¿Qué? ¡Sí! «quotes» “curly” — dash … ellipsis · dot",
    "emoji 🙂🙂 中文 字 日本語 한국어 العربية",
    "",
    "   \t\n ",
    "!!!",
    "ALL CAPS WORDS Mixed Case",
]


@pytest.fixture(scope="module")
def reuters():
    return read_split(os.path.join(REUTERS, "train.tsv.gz")), read_split(os.path.join(REUTERS, "test.tsv.gz"))


def _save_both(tokenizer, directory):
    tokenizer.save(directory)
    return WordTokenizer.load(directory), NumpyTokenizer.load(directory)


def test_int_ids_match_keras_on_reuters(reuters, tmp_path):
    train, test = reuters
    adapted = WordTokenizer.adapt(train.texts, 20000, sequence_length=200)
    keras_tok, numpy_tok = _save_both(adapted, str(tmp_path / "t"))
    assert numpy_tok.vocabulary == adapted.vocabulary
    assert numpy_tok.vocabulary_size == adapted.vocabulary_size
    truncated = oov = 0
    for start in range(0, len(test.texts), 500):
        batch = test.texts[start:start + 500]
        expected = np.asarray(keras_tok(tf.constant(batch)))
        got = numpy_tok(batch)
        assert got.dtype == np.int32 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.asarray(adapted(tf.constant(batch))), expected)
        truncated += int((expected[:, -1] != 0).sum())
        oov += int((expected == 1).sum())
    assert truncated > 0 and oov > 0  # truncation and out-of-vocabulary words were exercised
    fixed = numpy_tok(test.texts[:20], length=200)
    short = numpy_tok(test.texts[:20])
    assert fixed.shape == (20, 200)
    np.testing.assert_array_equal(fixed, np.pad(short, ((0, 0), (0, 200 - short.shape[1]))))


def test_tfidf_matches_keras_on_reuters(reuters, tmp_path):
    train, test = reuters
    adapted = WordTokenizer.adapt(train.texts, 5000, output_mode="tf_idf")
    keras_tok, numpy_tok = _save_both(adapted, str(tmp_path / "t"))
    assert numpy_tok.vocabulary_size == adapted.vocabulary_size == 5000
    for start in range(0, len(test.texts), 500):
        batch = test.texts[start:start + 500]
        expected = np.asarray(keras_tok(tf.constant(batch)))
        got = numpy_tok(batch)
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)  # same files: bit for bit
        # The in-memory tokenizer too (idf.txt keeps 8 significant digits).
        np.testing.assert_allclose(got, np.asarray(adapted(tf.constant(batch))), rtol=1e-6)
        assert (got[:, 0] > 0).any()  # the out-of-vocabulary bucket is used


@pytest.mark.parametrize("mode", ["int", "tf_idf"])
def test_tricky_strings_match_keras(mode, tmp_path):
    # The vocabulary holds the tricky tokens themselves, so ids are not all OOV.
    adapted = WordTokenizer.adapt(TRICKY[:7] + ["plain words here"], 200, sequence_length=12, output_mode=mode)
    keras_tok, numpy_tok = _save_both(adapted, str(tmp_path / "t"))
    assert numpy_tok.vocabulary == keras_tok.vocabulary
    words = keras_tok.layer._preprocess(tf.constant(TRICKY)).to_list()
    for text, expected in zip(TRICKY, words):
        assert numpy_tok.tokenize(text) == [w.decode("utf-8") for w in expected], repr(text)
    expected = np.asarray(keras_tok(tf.constant(TRICKY)))
    np.testing.assert_array_equal(numpy_tok(TRICKY), expected)
    np.testing.assert_array_equal(numpy_tok([t.encode("utf-8") for t in TRICKY]), expected)
    for text in TRICKY:  # one document at a time (own padding)
        np.testing.assert_array_equal(numpy_tok(text), np.asarray(keras_tok(tf.constant([text]))))
    assert numpy_tok.tokenize("ÉCOLE") == ["École"]
    assert numpy_tok.tokenize("a\xa0b\tc") == ["a\xa0b", "c"]


def test_empty_batches_and_documents(tmp_path):
    adapted = WordTokenizer.adapt(["oil prices rose", "wheat fell"], 20, sequence_length=3)
    keras_tok, numpy_tok = _save_both(adapted, str(tmp_path / "t"))
    for texts in (["", "  "], ["!!!"], ["oil oil oil oil oil", ""]):
        expected = np.asarray(keras_tok(tf.constant(texts)))
        got = numpy_tok(texts)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    assert numpy_tok([]).shape == (0, 0)
    np.testing.assert_array_equal(numpy_tok(["oil zzz"], length=5), [[2 + adapted.vocabulary.index("oil"), 1, 0, 0, 0]])
    with pytest.raises(TypeError):
        numpy_tok([3])


def test_runtime_does_not_import_tensorflow():
    code = "import sys, kdkeras.runtime; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    root = os.path.join(os.path.dirname(__file__), "..")
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
