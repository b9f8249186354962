"""A teacher with a frozen bottom trained on cached hidden states: same network, the bottom run once."""

import keras
import numpy as np
import pytest

from kdkeras import buckets, frozen, training
from kdkeras.data.hedwig import Split
from kdkeras.models import DocBERT, load_backbone
from kdkeras.models.backbones import freeze
from tests.helpers import BUCKET_TEXTS, SMALL_BUCKETS, assert_resumes_to_the_same_result

TEXTS, SMALL = BUCKET_TEXTS, SMALL_BUCKETS
LABELS = np.asarray([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1], [1, 0], [1, 0], [0, 1]] * 3, "int8")


def _teacher(pooling="cls", embeddings=True, layers=1, seed=0):
    backbone, preprocessor = load_backbone("tiny", 32, train_texts=TEXTS, seed=seed)
    freeze(backbone, embeddings=embeddings, layers=layers)
    keras.utils.set_random_seed(seed)
    return DocBERT(backbone, num_classes=2, pooling=pooling), preprocessor


def test_frozen_depth_counts_layers_frozen_with_the_embeddings():
    assert frozen.frozen_depth(_teacher(layers=1)[0].backbone) == 1
    assert frozen.frozen_depth(_teacher(layers=2)[0].backbone) == 2
    assert frozen.frozen_depth(_teacher(layers=0)[0].backbone) == 0
    assert frozen.frozen_depth(_teacher(embeddings=False, layers=1)[0].backbone) == 0  # gradients reach the embeddings


@pytest.mark.parametrize("pooling", ["cls", "mean", "pooled"])
@pytest.mark.parametrize("layers", [1, 2])
def test_bottom_then_top_is_the_teacher(pooling, layers):
    teacher, preprocessor = _teacher(pooling, layers=layers)
    encoded = buckets.encode(TEXTS, preprocessor, buckets=SMALL)
    hidden = frozen.cache(frozen.bottom_model(teacher.backbone, layers), encoded, batch_size=5)
    assert hidden.inputs["hidden"].shape == (len(TEXTS), 32, teacher.backbone.hidden_dim)
    cuts = np.zeros(len(TEXTS), int)
    for batch in buckets.inference_batches(encoded, 5):
        cuts[batch] = encoded.cut_length(batch)
    beyond = np.arange(32)[None, :] >= cuts[:, None]
    assert beyond.any() and not hidden.inputs["hidden"][beyond].any()  # zero past the cut each document ran at
    top = frozen.top_model(teacher, layers)
    full = buckets.predict_logits(teacher, encoded, batch_size=5)
    cached = buckets.predict_logits(top, hidden, batch_size=5)
    np.testing.assert_allclose(cached, full, atol=1e-4)
    assert {id(w) for w in top.trainable_weights} <= {id(w) for w in teacher.trainable_weights}


def _fit(tmp_path, cache_frozen, **kwargs):
    teacher, preprocessor = _teacher(layers=1)
    lines = []
    result = training.fit_teacher(teacher, preprocessor, Split(TEXTS, LABELS, "toy"), Split(TEXTS, LABELS, "toy"),
                                  True, epochs=4, batch_size=4, learning_rate=1e-3, work_dir=str(tmp_path),
                                  jit_compile=False, verbose=0, cache_frozen=cache_frozen, log=lines.append, **kwargs)
    return teacher, result, lines


def test_a_cached_bottom_trains_the_teacher_above_it(tmp_path):
    initial = [w.numpy() for w in _teacher(layers=1)[0].weights]
    teacher, result, lines = _fit(tmp_path, True)
    assert result["cached_layers"] == 1 and any("caching the hidden states after 1 frozen layers" in x for x in lines)
    loss = result["history"]["loss"]
    assert len(loss) == 4 and loss[-1] < loss[0]
    after = {w.path: w.numpy() for w in teacher.weights}
    before = dict(zip([w.path for w in teacher.weights], initial))
    moved = {path for path in after if not np.array_equal(after[path], before[path])}
    assert any("transformer_layer_1" in p for p in moved) and any("logits" in p for p in moved)
    assert not any("transformer_layer_0" in p or "embedding" in p for p in moved)
    # The selected epoch's weights are in the teacher itself: it scores its dev score.
    logits = buckets.predict_texts(teacher, _teacher(layers=1)[1], TEXTS, batch_size=8)
    from kdkeras import metrics
    assert metrics.score(LABELS, logits, True) == pytest.approx(result["dev_score"], abs=1e-6)


def test_the_cache_falls_back_to_the_whole_teacher_above_its_limit(tmp_path):
    _, result, lines = _fit(tmp_path, True, cache_limit=1000)
    assert result["cached_layers"] == 0 and any("not caching the frozen layers" in x for x in lines)
    _, result, lines = _fit(tmp_path / "off", False)
    assert result["cached_layers"] == 0 and not lines


@pytest.mark.slow  # three teacher trainings
def test_a_cached_training_resumes_to_the_same_result(tmp_path, monkeypatch):
    def run(work_dir):
        teacher, result, _ = _fit(work_dir, True)
        return result, [w.numpy() for w in teacher.weights]

    reference = assert_resumes_to_the_same_result(run, tmp_path, monkeypatch)
    assert len(reference["history"]["loss"]) == 4
