import keras
import numpy as np
import pytest

from kdkeras import windows
from kdkeras.models import DocBERT, load_backbone

WORDS = "oil prices rose wheat exports fell the dollar gained against yen".split()


@pytest.fixture(scope="module")
def tiny():
    return load_backbone("tiny", 8, train_texts=[" ".join(WORDS)] * 20)


def test_windows_cover_the_document_in_order(tiny):
    _, preprocessor = tiny
    tok = preprocessor.tokenizer
    text = " ".join(WORDS * 2)  # 22 word pieces, window of 6, stride 3
    pieces = np.asarray(tok(text))
    out = windows.WindowedPreprocessor(preprocessor, num_windows=4, stride=3)([text, "oil"])
    ids, mask, wmask = (np.asarray(out[k]) for k in ("token_ids", "padding_mask", "window_mask"))
    assert ids.shape == (2, 4, 8) and wmask.shape == (2, 4)
    for w in range(4):  # [CLS] pieces[3w : 3w+6] [SEP]
        np.testing.assert_array_equal(ids[0, w], [tok.cls_token_id, *pieces[3 * w: 3 * w + 6], tok.sep_token_id])
    assert mask[0].all() and wmask[0].all()
    # A one-word document: one window [CLS] oil [SEP] pad…; the others hold no text.
    np.testing.assert_array_equal(ids[1, 0, :3], [tok.cls_token_id, tok.token_to_id("oil"), tok.sep_token_id])
    assert (ids[1, 0, 3:] == tok.pad_token_id).all() and mask[1, 0].sum() == 3
    np.testing.assert_array_equal(wmask[1], [True, False, False, False])


def test_window_mask_drops_windows_inside_the_previous_one(tiny):
    _, preprocessor = tiny
    text = " ".join(WORDS[:8])  # 8 pieces: window 0 = 0..5, window 1 = 3..8 adds pieces 6, 7; window 2 = 6..7 adds none
    out = windows.WindowedPreprocessor(preprocessor, num_windows=3, stride=3)([text])
    np.testing.assert_array_equal(np.asarray(out["window_mask"])[0], [True, True, False])


def test_one_window_equals_truncation(tiny):
    backbone, preprocessor = tiny
    keras.utils.set_random_seed(0)
    model = DocBERT(backbone, num_classes=3)
    texts = [" ".join(WORDS), "wheat"]
    windowed, transform = windows.wrap(model, preprocessor, num_windows=2, stride=6)
    short = ["oil prices", "wheat"]  # one window each: pooled logits = the plain model's
    np.testing.assert_allclose(np.asarray(windowed(transform(short))), np.asarray(model(preprocessor(short))), atol=1e-5)
    assert windows.wrap(model, preprocessor, num_windows=1) == (model, preprocessor)
    assert np.asarray(windowed(transform(texts))).shape == (2, 3)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooling_over_text_windows_only(tiny, pooling):
    backbone, preprocessor = tiny
    model = DocBERT(backbone, num_classes=3)
    windowed = windows.WindowedClassifier(model, pooling)
    transform = windows.WindowedPreprocessor(preprocessor, num_windows=4, stride=6)
    text = " ".join(WORDS)  # 11 pieces: windows 0..5 and 6..10
    x = transform([text])
    per_window = np.asarray(model({k: np.asarray(x[k])[0] for k in ("token_ids", "padding_mask", "segment_ids")}))
    expected = per_window[:2].mean(0) if pooling == "mean" else per_window[:2].max(0)
    np.testing.assert_allclose(np.asarray(windowed(x))[0], expected, atol=1e-5)


def test_windowed_classifier_trains_and_round_trips(tiny, tmp_path):
    backbone, preprocessor = tiny
    keras.utils.set_random_seed(0)
    model = windows.WindowedClassifier(DocBERT(backbone, num_classes=2), "max")
    transform = windows.WindowedPreprocessor(preprocessor, num_windows=3)
    x = transform([" ".join(WORDS), "wheat exports fell"])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, np.array([0, 1]), epochs=1, verbose=0)
    model.save(tmp_path / "w.keras")
    again = keras.saving.load_model(tmp_path / "w.keras")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-5)


def test_bad_settings(tiny):
    with pytest.raises(ValueError, match="stride"):
        windows.WindowedPreprocessor(tiny[1], num_windows=2, stride=7)
    with pytest.raises(ValueError, match="pooling"):
        windows.WindowedClassifier(DocBERT(tiny[0], 2), "sum")


def test_a_teacher_reads_more_word_pieces_than_it_trained_on(tmp_path):
    from keras_hub.models import BertTextClassifierPreprocessor

    from kdkeras.models import backbones

    backbone, preprocessor = load_backbone("tiny", 24, train_texts=[" ".join(WORDS)] * 20)  # positions for 24
    directory = str(tmp_path)
    backbones.save_preprocessor(BertTextClassifierPreprocessor(tokenizer=preprocessor.tokenizer, sequence_length=8),
                                directory)  # as if trained on 8 word pieces
    keras.utils.set_random_seed(0)
    model = DocBERT(backbone, num_classes=2)
    lengths = {n: windows.load(model, directory, n)[1].sequence_length for n in (None, 4, 8, 16, 100)}
    assert lengths == {None: 8, 4: 8, 8: 8, 16: 16, 100: 24}  # never shorter than trained; at most the positions
    trained, longer = windows.load(model, directory)[1], windows.load(model, directory, 16)[1]
    texts = [" ".join(WORDS), "oil prices"]
    short, long_ = np.asarray(model(trained(texts))), np.asarray(model(longer(texts)))
    np.testing.assert_allclose(long_[1], short[1], atol=1e-5)  # a short document reads the same
    assert not np.allclose(long_[0], short[0], atol=1e-4)  # a long one is read further
    windows.save_config(directory, 2)
    assert isinstance(windows.load(model, directory)[1], windows.WindowedPreprocessor)
    with pytest.raises(ValueError, match="windows of its training length"):
        windows.load(model, directory, 16)
