"""Every registered student: shapes, save/load, and learning a toy task."""

import keras
import numpy as np
import pytest

from kdkeras.models import STUDENTS, build_kimcnn, build_student, build_tfidf_lr, get_student
from kdkeras.text import WordTokenizer
from tests.helpers import make_docs

SMALL = {
    "lstm": dict(embedding_dim=16, hidden_dim=16, dropout=0.0),
    "kimcnn": dict(embedding_dim=16, filters=8, dropout=0.0),
    "lr": dict(),
    "boe": dict(embedding_dim=16),
}


def toy_features(name):
    rows = make_docs(240, seed=3)
    texts = [t for _, t in rows]
    labels = np.array([[int(b) for b in bits] for bits, _ in rows], "float32")
    tokenizer = WordTokenizer.adapt(texts, 500, 40, get_student(name).features)
    return tokenizer, np.asarray(tokenizer(texts)), labels


@pytest.mark.parametrize("name", sorted(STUDENTS))
def test_student_learns_toy_task_and_round_trips(name, tmp_path):
    tokenizer, x, y = toy_features(name)
    keras.utils.set_random_seed(0)
    model = build_student(name, tokenizer.vocabulary_size, 3, seed=0, **SMALL[name])
    assert model(x[:4]).shape == (4, 3)
    learning_rate = 1e-1 if name == "lr" else 1e-2  # a linear model on unit-norm tf-idf takes bigger steps
    model.compile(get_student(name).optimizer(learning_rate=learning_rate, use_ema=False),
                  keras.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0], history
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(x[:8])), np.asarray(model(x[:8])), atol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "kimcnn", "boe"])
def test_logits_do_not_depend_on_batch_padding(name):
    keras.utils.set_random_seed(0)
    model = build_student(name, 60, 3, seed=0, **SMALL[name])
    for length in (1, 4, 7):
        ids = np.random.default_rng(length).integers(2, 60, size=(1, length)).astype("int32")
        padded = np.pad(ids, ((0, 0), (0, 9)))
        np.testing.assert_allclose(np.asarray(model(padded)), np.asarray(model(ids)), atol=1e-5)


def test_registry_matches_the_light_names():
    from kdkeras import names

    assert tuple(STUDENTS) == names.STUDENTS and set(SMALL) == set(names.STUDENTS)


def test_boe_is_the_mean_of_word_vectors_then_dense():
    vectors = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    vectors[0] = 0.0
    model = build_student("boe", 20, 3, embedding_dim=4, embeddings=vectors, hidden_dim=0)
    ids = np.array([[5, 7, 7, 2, 0, 0], [0, 0, 0, 0, 0, 0]], "int32")
    kernel, bias = model.get_layer("logits").get_weights()
    mean = vectors[[5, 7, 7, 2]].mean(axis=0)
    np.testing.assert_allclose(np.asarray(model(ids))[0], mean @ kernel + bias, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(ids))[1], bias, atol=1e-6)  # empty document: zero features
    assert model.count_params() == 20 * 4 + 4 * 3 + 3
    assert build_student("boe", 20, 3, embedding_dim=4, hidden_dim=8).get_layer("hidden").units == 8


def test_kimcnn_channels_and_short_documents():
    multi = build_kimcnn(50, 4, embedding_dim=8, filters=5, seed=0)
    assert multi.get_layer("static_embedding").trainable is False
    assert multi.get_layer("embedding").trainable is True
    assert multi.get_layer("conv_3").kernel.shape == (3, 2 * 8, 5)  # each filter sees both channels
    assert multi.get_layer("features").output.shape[-1] == 15
    assert multi(np.array([[4]], "int32")).shape == (1, 4)  # shorter than the widest filter
    single = build_kimcnn(50, 4, embedding_dim=8, filters=5, mode="rand")
    assert single.get_layer("conv_5").kernel.shape == (5, 8, 5)
    vectors = np.random.default_rng(0).normal(size=(50, 8)).astype("float32")
    static = build_kimcnn(50, 4, embedding_dim=8, embeddings=vectors, mode="static")
    np.testing.assert_allclose(static.get_layer("static_embedding").get_weights()[0], vectors)
    with pytest.raises(ValueError):
        build_kimcnn(50, 4, mode="dynamic")


def test_tfidf_lr_is_linear_in_normalised_tfidf():
    model = build_tfidf_lr(6, 2, seed=0)
    x = np.array([[0.0, 3.0, 4.0, 0.0, 0.0, 0.0]], "float32")
    w, b = model.get_layer("logits").get_weights()
    np.testing.assert_allclose(np.asarray(model(x)), (x / 5.0) @ w + b, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(2 * x)), np.asarray(model(x)), atol=1e-6)


def test_tfidf_tokenizer_round_trip(tmp_path):
    texts = ["oil oil prices", "wheat prices", "oil exports"]
    tokenizer = WordTokenizer.adapt(texts, 10, output_mode="tf_idf")
    out = np.asarray(tokenizer(["oil oil unknown"]))
    vocab = tokenizer.vocabulary
    assert out.shape == (1, len(vocab) + 1)
    oil = vocab.index("oil") + 1
    assert out[0, oil] == pytest.approx((1 + np.log(2)) * tokenizer.idf_weights[oil - 1])  # sublinear tf
    assert out[0, 0] > 0  # the out-of-vocabulary bucket
    tokenizer.save(str(tmp_path / "t"))
    again = WordTokenizer.load(str(tmp_path / "t"))
    np.testing.assert_allclose(np.asarray(again(["oil wheat prices"])), np.asarray(tokenizer(["oil wheat prices"])))


def test_int_tokenizer_truncates_and_pads_to_batch(tmp_path):
    tokenizer = WordTokenizer.adapt(["a b c d e f", "a b"], 20, sequence_length=4)
    ids = np.asarray(tokenizer(["a b c d e f", "a zzz"]))
    assert ids.shape == (2, 4) and ids[1, 1] == 1 and ids[1, 2] == 0
    tokenizer.save(str(tmp_path / "t"))
    np.testing.assert_array_equal(np.asarray(WordTokenizer.load(str(tmp_path / "t"))(["a b c d e f"])), ids[:1])


def test_a_new_student_is_one_module_plus_one_registry_entry(monkeypatch):
    # A student registered in kdkeras.models.STUDENTS (and named in kdkeras.names) is known to every
    # command and builds through the shared API; nothing else spells student names.
    import dataclasses

    from kdkeras import models, names
    from pipelines import run, sweep

    spec = dataclasses.replace(STUDENTS["boe"])
    monkeypatch.setattr(names, "STUDENTS", names.STUDENTS + ("toy",))
    monkeypatch.setitem(models.STUDENTS, "toy", spec)
    assert run.parser().parse_args(["--dataset", "reuters", "--students", "lstm,toy"]).students == ["lstm", "toy"]
    assert sweep.parser().parse_args(["--run-dir", "r", "--student", "toy", "--vary", "alpha=1"]).student == "toy"
    assert build_student("toy", 20, 3, embedding_dim=4, hidden_dim=0).output_shape == (None, 3)


def test_boe_word_weights_start_as_the_mean_and_weight_the_average():
    vectors = np.random.default_rng(1).normal(size=(20, 4)).astype("float32")
    model = build_student("boe", 20, 3, embedding_dim=4, embeddings=vectors, word_weights=True)
    plain = build_student("boe", 20, 3, embedding_dim=4, embeddings=vectors)
    plain.get_layer("logits").set_weights(model.get_layer("logits").get_weights())
    ids = np.array([[5, 7, 7, 2, 0, 0], [0, 0, 0, 0, 0, 0]], "int32")
    np.testing.assert_allclose(np.asarray(model(ids)), np.asarray(plain(ids)), rtol=1e-5, atol=1e-6)
    log_w = np.zeros((20, 1), "float32")
    log_w[7] = np.log(3.0)
    model.get_layer("word_weight").set_weights([log_w])
    kernel, bias = model.get_layer("logits").get_weights()
    mean = (vectors[5] + 3 * 2 * vectors[7] + vectors[2]) / 8
    np.testing.assert_allclose(np.asarray(model(ids))[0], mean @ kernel + bias, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model(ids))[1], bias, atol=1e-6)  # empty document stays zero
    assert model.count_params() == plain.count_params() + 20


def test_load_model_can_run_predict_through_xla(tmp_path):
    from kdkeras.models import load_model

    keras.utils.set_random_seed(0)
    model = build_student("boe", 60, 3, seed=0, **SMALL["boe"])
    model.save(tmp_path / "m.keras")
    ids = np.random.default_rng(0).integers(1, 60, size=(8, 7)).astype("int32")
    plain, xla = load_model(tmp_path / "m.keras"), load_model(tmp_path / "m.keras", jit_compile=True)
    assert plain.jit_compile is False and xla.jit_compile is True
    np.testing.assert_allclose(xla.predict(ids, verbose=0), plain.predict(ids, verbose=0), atol=1e-5)
