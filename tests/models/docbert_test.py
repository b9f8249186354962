import keras
import numpy as np
import pytest

from kdkeras.models import DocBERT, load_backbone


@pytest.fixture(scope="module")
def tiny():
    texts = ["oil prices rose", "wheat exports fell", "the dollar gained"] * 10
    return load_backbone("tiny", 16, train_texts=texts)


@pytest.mark.parametrize("pooling", ["cls", "pooled", "mean"])
def test_docbert_logits_and_round_trip(tiny, tmp_path, pooling):
    backbone, preprocessor = tiny
    model = DocBERT(backbone, num_classes=5, pooling=pooling)
    x = preprocessor(["oil prices", "wheat"])
    logits = np.asarray(model(x))
    assert logits.shape == (2, 5)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(x)), logits, atol=1e-6)


def test_docbert_rejects_unknown_pooling(tiny):
    with pytest.raises(ValueError, match="pooling"):
        DocBERT(tiny[0], 3, pooling="max")


def test_mean_pooling_averages_the_word_pieces_only(tiny):
    backbone, preprocessor = tiny
    model = DocBERT(backbone, num_classes=4, pooling="mean", dropout=0.0)
    x = preprocessor(["oil prices rose", "wheat"])
    sequence = np.asarray(backbone(x)["sequence_output"])
    mask = np.asarray(x["padding_mask"], "float32")[..., None]
    pooled = (sequence * mask).sum(1) / mask.sum(1)
    dense = model.get_layer("logits")
    expected = pooled @ np.asarray(dense.kernel) + np.asarray(dense.bias)
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-5)
