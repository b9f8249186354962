"""NumpyTokenizer reproduces the Keras WordTokenizer token for token, without TensorFlow."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdkeras.data.hedwig import read_split
from kdkeras.runtime import STANDARDIZATIONS, NumpyTokenizer
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


def _assert_same(got, expected):
    """Ids exactly; tf-idf to float tolerance (`tf.math.log` and `np.log` may round differently)."""
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if got.dtype == np.float32:
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("standardize", STANDARDIZATIONS)
def test_int_ids_match_keras_on_reuters(standardize, reuters, tmp_path):
    train, test = reuters
    adapted = WordTokenizer.adapt(train.texts, 20000, sequence_length=200, standardize=standardize)
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


@pytest.mark.parametrize("standardize", STANDARDIZATIONS)
@pytest.mark.parametrize("sublinear_tf", [True, False])
def test_tfidf_matches_keras_on_reuters(standardize, sublinear_tf, reuters, tmp_path):
    train, test = reuters
    adapted = WordTokenizer.adapt(train.texts, 5000, output_mode="tf_idf", standardize=standardize,
                                  sublinear_tf=sublinear_tf)
    keras_tok, numpy_tok = _save_both(adapted, str(tmp_path / "t"))
    assert (numpy_tok.standardize, numpy_tok.sublinear_tf) == (keras_tok.standardize, keras_tok.sublinear_tf) == (
        standardize, sublinear_tf)
    assert numpy_tok.vocabulary_size == adapted.vocabulary_size == 5000
    repeated = 0
    for start in range(0, len(test.texts), 500):
        batch = test.texts[start:start + 500]
        expected = np.asarray(keras_tok(tf.constant(batch)))
        got = numpy_tok(batch)
        assert got.dtype == np.float32
        _assert_same(got, expected)
        if not sublinear_tf:
            np.testing.assert_array_equal(got, expected)  # same files, no log: bit for bit
        # The in-memory tokenizer too (idf.txt keeps 8 significant digits).
        np.testing.assert_allclose(got, np.asarray(adapted(tf.constant(batch))), rtol=1e-5)
        assert (got[:, 0] > 0).any()  # the out-of-vocabulary bucket is used
        repeated += int((got > numpy_tok.idf * 1.5).sum())
        # The sparse form a sparse-input .tflite takes: exactly the nonzero entries, in index order.
        for text, row in zip(batch[:100], got):
            ids, values = numpy_tok.terms(text)
            if row.any():
                np.testing.assert_array_equal(ids, np.flatnonzero(row))
                np.testing.assert_array_equal(values, row[ids])
            else:
                assert (ids.tolist(), values.tolist()) == ([0], [0.0])
    assert repeated > 0  # words occurring more than once: raw and sublinear tf differ


def test_tfidf_values(tmp_path):
    texts = ["oil oil prices", "wheat prices", "oil exports"]
    raw = WordTokenizer.adapt(texts, 10, output_mode="tf_idf", sublinear_tf=False)
    sublinear = WordTokenizer.adapt(texts, 10, output_mode="tf_idf")
    assert sublinear.sublinear_tf and sublinear.vocabulary == raw.vocabulary
    np.testing.assert_array_equal(sublinear.idf_weights, raw.idf_weights)
    # Keras' own tf_idf layer learns the same vocabulary and idf and gives the raw counts × idf.
    layer = keras.layers.TextVectorization(10, output_mode="tf_idf", standardize=None)
    layer.adapt(tf.constant(texts))
    assert layer.get_vocabulary()[1:] == raw.vocabulary
    np.testing.assert_array_equal(np.asarray(layer._lookup_layer.idf_weights)[1:], raw.idf_weights)
    doc = tf.constant(["oil oil oil unknown unknown prices"])
    np.testing.assert_array_equal(np.asarray(raw(doc)), np.asarray(layer(doc)))
    oil, prices = raw.vocabulary.index("oil") + 1, raw.vocabulary.index("prices") + 1
    idf = np.concatenate([[np.mean(raw.idf_weights)], raw.idf_weights])
    expected = np.zeros(raw.vocabulary_size, "float32")
    expected[[0, oil, prices]] = (1 + np.log([2, 3, 1])) * idf[[0, oil, prices]]
    np.testing.assert_allclose(np.asarray(sublinear(doc))[0], expected, rtol=1e-6)
    sublinear.save(str(tmp_path / "t"))
    again = WordTokenizer.load(str(tmp_path / "t"))
    assert again.sublinear_tf and again.vocabulary_size == len(again.vocabulary) + 1 == sublinear.vocabulary_size
    np.testing.assert_allclose(np.asarray(again(doc)), np.asarray(sublinear(doc)), rtol=1e-6)


@pytest.mark.parametrize("standardize", STANDARDIZATIONS)
@pytest.mark.parametrize("mode", ["int", "tf_idf"])
def test_tricky_strings_match_keras(mode, standardize, tmp_path):
    # The vocabulary holds the tricky tokens themselves, so ids are not all OOV.
    adapted = WordTokenizer.adapt(TRICKY[:7] + ["plain words here"], 200, sequence_length=12, output_mode=mode,
                                  standardize=standardize)
    keras_tok, numpy_tok = _save_both(adapted, str(tmp_path / "t"))
    assert numpy_tok.vocabulary == keras_tok.vocabulary
    words = keras_tok.layer._preprocess(tf.constant(TRICKY)).to_list()
    for text, expected in zip(TRICKY, words):
        assert numpy_tok.tokenize(text) == [w.decode("utf-8") for w in expected], repr(text)
    expected = np.asarray(keras_tok(tf.constant(TRICKY)))
    _assert_same(numpy_tok(TRICKY), expected)
    _assert_same(numpy_tok([t.encode("utf-8") for t in TRICKY]), expected)
    for text in TRICKY:  # one document at a time (own padding)
        _assert_same(numpy_tok(text), np.asarray(keras_tok(tf.constant([text]))))
    assert numpy_tok.tokenize("ÉCOLE") == ["École"]
    assert numpy_tok.tokenize("a\xa0b\tc") == ["a\xa0b", "c"]
    split = standardize == "lower_and_split_punctuation"
    expected = ["5", "93", "farmer", "owned"] if split else ["593", "farmerowned"]
    assert numpy_tok.tokenize("5.93 Farmer-owned") == expected


def test_old_tokenizer_files_keep_keras_standardisation_and_raw_counts(tmp_path):
    """tokenizer.json written before "lower_and_split_punctuation" and "sublinear_tf" existed."""
    texts = ["Oil prices: 5.93 dlrs", "farmer-owned wheat, 155,221 tonnes", "oil oil exports"]
    for mode in ("int", "tf_idf"):
        directory = str(tmp_path / mode)
        WordTokenizer.adapt(texts, 50, output_mode=mode, standardize="lower_and_strip_punctuation").save(directory)
        config_file = os.path.join(directory, "tokenizer.json")
        with open(config_file) as f:
            config = json.load(f)
        assert config["standardize"] == "lower_and_strip_punctuation"
        config.pop("sublinear_tf", None)  # the files of an old tokenizer: raw counts
        with open(config_file, "w") as f:
            json.dump(config, f)
        keras_tok, numpy_tok = WordTokenizer.load(directory), NumpyTokenizer.load(directory)
        assert keras_tok.standardize == numpy_tok.standardize == "lower_and_strip_punctuation"
        assert not keras_tok.sublinear_tf and not numpy_tok.sublinear_tf
        assert {"593", "farmerowned", "155221"} <= set(keras_tok.vocabulary)
        assert numpy_tok.tokenize("5.93 Farmer-owned") == ["593", "farmerowned"]
        # Keras' default TextVectorization with the same vocabulary (and idf).
        layer = keras.layers.TextVectorization(
            vocabulary=keras_tok.vocabulary, output_mode=mode, idf_weights=keras_tok.idf_weights
        )
        expected = np.asarray(layer(tf.constant(texts)))
        np.testing.assert_array_equal(np.asarray(keras_tok(tf.constant(texts))), expected)
        np.testing.assert_array_equal(numpy_tok(texts), expected)


def test_new_tokenizer_files(tmp_path):
    WordTokenizer.adapt(["a b"], 10, output_mode="tf_idf").save(str(tmp_path / "t"))
    with open(tmp_path / "t" / "tokenizer.json") as f:
        config = json.load(f)
    assert config["standardize"] == "lower_and_split_punctuation" and config["sublinear_tf"] is True
    with pytest.raises(ValueError, match="standardize"):
        WordTokenizer(["a"], standardize="lower")
    with pytest.raises(ValueError, match="standardize"):
        NumpyTokenizer(["a"], standardize="lower")


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
