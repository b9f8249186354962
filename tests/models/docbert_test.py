import keras
import numpy as np
import pytest

from kdkeras.models import DocBERT, load_backbone


@pytest.fixture(scope="module")
def tiny():
    texts = ["oil prices rose", "wheat exports fell", "the dollar gained"] * 10
    return load_backbone("tiny", 16, train_texts=texts)


@pytest.mark.parametrize("pooling", ["cls", "pooled"])
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
        DocBERT(tiny[0], 3, pooling="mean")
