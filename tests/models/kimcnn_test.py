"""KimCNN as 1-D convolutions: the same function as the paper's 2-D form, independent of batch padding."""

import keras
import numpy as np
import pytest

from kdkeras.models.kimcnn import build_kimcnn, build_kimcnn_conv2d

MODES = ["multichannel", "static", "non-static", "rand"]
SMALL = dict(embedding_dim=8, filters=5, widths=(2, 3, 5), dropout=0.5)


def padded_ids(rng, lengths, vocabulary_size, width):
    ids = np.zeros((len(lengths), width), "int32")
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, vocabulary_size, size=length)
    return ids


@pytest.mark.parametrize("mode", MODES)
def test_1d_model_computes_the_2d_model(mode):
    keras.utils.set_random_seed(0)
    old = build_kimcnn_conv2d(40, 3, mode=mode, **SMALL)
    new = build_kimcnn(40, 3, mode=mode, seed=0, **SMALL)
    rng = np.random.default_rng(1)
    for layer in old.layers:  # random weights, also in the padding row 0, so the zeroing matters
        layer.set_weights([rng.normal(size=v.shape).astype("float32") for v in layer.weights])
    for name in ("static_embedding", "embedding", "logits"):
        if any(layer.name == name for layer in old.layers):
            new.get_layer(name).set_weights(old.get_layer(name).get_weights())
    for w in SMALL["widths"]:
        kernel, bias = old.get_layer(f"conv_{w}").get_weights()  # (w, E, C, F)
        # The 1-D features are the channels one after another: feature c * E + e is (channel c, dimension e).
        kernel = kernel.transpose(0, 2, 1, 3).reshape(w, -1, kernel.shape[-1])
        new.get_layer(f"conv_{w}").set_weights([kernel, bias])

    ids = padded_ids(rng, [1, 3, 9, 12, 6, 0], 40, 12)  # shorter than the widest filter, full, empty
    expected = np.asarray(old(ids, training=False))
    np.testing.assert_allclose(np.asarray(new(ids, training=False)), expected, atol=1e-5)
    assert np.abs(expected).max() > 1  # not trivially zero


@pytest.mark.parametrize("mode", MODES)
def test_logits_do_not_change_with_more_batch_padding(mode):
    keras.utils.set_random_seed(0)
    model = build_kimcnn(40, 3, mode=mode, seed=0, **SMALL)
    ids = padded_ids(np.random.default_rng(2), [1, 4, 7, 10], 40, 10)
    logits = np.asarray(model(ids, training=False))
    for extra in (1, 5, 23):
        padded = np.pad(ids, ((0, 0), (0, extra)))
        np.testing.assert_allclose(np.asarray(model(padded, training=False)), logits, atol=1e-5)


def test_conv_initialisation_matches_the_2d_kernel():
    # Glorot uniform of the 2-D kernel (w, E, C, F): limit sqrt(6 / (w·E·C + w·E·F)).
    keras.utils.set_random_seed(0)
    model = build_kimcnn(50, 4, embedding_dim=300, filters=100, mode="multichannel")
    kernel = model.get_layer("conv_4").get_weights()[0]
    assert kernel.shape == (4, 600, 100)
    limit = np.sqrt(6 / (4 * 300 * 2 + 4 * 300 * 100))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.99 * limit
