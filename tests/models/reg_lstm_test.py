import keras
import numpy as np
import pytest

from kdkeras.models import build_reg_lstm, build_student
from kdkeras.models.reg_lstm import EmbeddingDropout, WeightDropLSTM


def test_shapes_and_padding_is_ignored():
    model = build_reg_lstm(50, 4, embedding_dim=8, hidden_dim=6, seed=1)
    ids = np.array([[5, 6, 7, 0, 0], [9, 3, 0, 0, 0]], dtype="int32")
    logits = np.asarray(model(ids))
    assert logits.shape == (2, 4)
    # More padding does not change the output: masked steps are ignored.
    longer = np.pad(ids, ((0, 0), (0, 4)))
    np.testing.assert_allclose(np.asarray(model(longer)), logits, atol=1e-5)


def test_embedding_dropout_drops_whole_word_types():
    layer = EmbeddingDropout(vocabulary_size=20, rate=0.5, seed=3)
    ids = np.array([[1, 2, 1, 2, 3, 3]], dtype="int32")
    emb = np.ones((1, 6, 4), "float32")
    out = np.asarray(layer([emb, ids], training=True))
    for word in (1, 2, 3):
        rows = out[0][ids[0] == word]
        assert np.allclose(rows, rows[0])  # same mask for every occurrence
        assert np.allclose(rows[0], 0) or np.allclose(rows[0], 2.0)
    np.testing.assert_array_equal(np.asarray(layer([emb, ids], training=False)), emb)


def test_weight_drop_only_in_training():
    lstm = WeightDropLSTM(8, weight_drop=0.5, seed=0, return_sequences=False)
    x = np.random.default_rng(0).normal(size=(3, 6, 5)).astype("float32")
    a, b = np.asarray(lstm(x)), np.asarray(lstm(x))
    np.testing.assert_allclose(a, b)
    # Same as a plain Keras LSTM with the same weights when not training.
    plain = keras.layers.LSTM(8)
    plain.build(x.shape)
    plain.set_weights(lstm.get_weights())
    np.testing.assert_allclose(np.asarray(plain(x)), a, atol=1e-5)
    dropped = np.asarray(lstm(x, training=True))
    assert not np.allclose(dropped, a)


def test_serialization_round_trip(tmp_path):
    model = build_reg_lstm(30, 3, embedding_dim=4, hidden_dim=5, weight_drop=0.2, seed=0)
    ids = np.array([[1, 2, 3, 0]], dtype="int32")
    model.save(tmp_path / "s.keras")
    again = keras.saving.load_model(tmp_path / "s.keras")
    np.testing.assert_allclose(np.asarray(again(ids)), np.asarray(model(ids)), atol=1e-6)
    assert again.get_layer("bilstm").forward_layer.weight_drop == 0.2


def test_training_lowers_loss_on_learnable_data():
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 40, size=(256, 12)).astype("int32")
    labels = np.stack([(ids == 5).any(1), (ids == 7).any(1)], axis=1).astype("float32")
    keras.utils.set_random_seed(0)
    model = build_student("lstm", 40, 2, embedding_dim=16, hidden_dim=16, dropout=0.0, seed=0)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(ids, labels, epochs=8, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]


def test_unknown_student():
    with pytest.raises(ValueError, match="unknown student"):
        build_student("gpt", 10, 2)
