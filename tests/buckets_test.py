"""Length-bucketed teacher batches: same logits as full-length batches, for less padding."""

import numpy as np
import pytest

from kdkeras import buckets, training
from kdkeras.models import DocBERT, load_backbone
from kdkeras.windows import WindowedPreprocessor
from tests.helpers import BUCKET_TEXTS, SMALL_BUCKETS, assert_resumes_to_the_same_result

SMALL, TEXTS = SMALL_BUCKETS, BUCKET_TEXTS


@pytest.fixture(scope="module")
def tiny():
    return load_backbone("tiny", 32, train_texts=TEXTS)


def test_bucket_lengths():
    assert buckets.bucket_lengths(256) == [32, 64, 96, 128, 160, 192, 224, 256]
    assert buckets.bucket_lengths(512) == [64, 128, 192, 256, 320, 384, 448, 512]
    assert buckets.bucket_lengths(64) == [16, 32, 48, 64] and buckets.bucket_lengths(32) == [16, 32]
    assert buckets.bucket_lengths(128, count=4) == [32, 64, 96, 128] and buckets.bucket_lengths(12) == [8, 12]


def test_encode_and_cut(tiny):
    _, preprocessor = tiny
    encoded = buckets.encode(TEXTS, preprocessor, batch_size=5, buckets=SMALL)
    full = preprocessor(TEXTS)
    np.testing.assert_array_equal(encoded.inputs["token_ids"], np.asarray(full["token_ids"]))
    np.testing.assert_array_equal(encoded.lengths, np.asarray(full["padding_mask"]).sum(1))
    assert encoded.buckets == [8, 16, 24, 32] and encoded.token_count == encoded.lengths.sum()
    short = np.flatnonzero(encoded.lengths <= 8)
    assert len(short) and encoded.batch(short)["token_ids"].shape == (len(short), 8)
    assert buckets.encode(TEXTS, preprocessor).buckets == [16, 32]
    assert encoded.cut_length(np.arange(len(TEXTS))) == 32


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_cut_batches_give_the_full_length_logits_in_input_order(tiny, pooling):
    backbone, preprocessor = tiny
    model = DocBERT(backbone, num_classes=3, pooling=pooling)
    expected = np.asarray(model.predict(preprocessor(TEXTS), verbose=0))
    got = buckets.predict_logits(model, buckets.encode(TEXTS, preprocessor, buckets=SMALL), batch_size=4)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    got = buckets.predict_texts(model, preprocessor, TEXTS, batch_size=4)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    windowed = WindowedPreprocessor(preprocessor, num_windows=2)
    assert buckets.supports(preprocessor) and not buckets.supports(windowed)


def test_training_batches_are_a_deterministic_partition_with_less_padding(tiny):
    _, preprocessor = tiny
    encoded = buckets.encode(TEXTS * 10, preprocessor, buckets=SMALL)
    n, size = len(encoded), 16
    first = buckets.training_batches(encoded, size, seed=3, epoch=2, chunk_batches=4)
    again = buckets.training_batches(encoded, size, seed=3, epoch=2, chunk_batches=4)
    other = buckets.training_batches(encoded, size, seed=3, epoch=3, chunk_batches=4)
    assert len(first) == int(np.ceil(n / size)) and sum(len(b) < size for b in first) <= 1
    assert sorted(np.concatenate(first).tolist()) == list(range(n))
    assert all((a == b).all() for a, b in zip(first, again))
    assert not all(len(a) == len(b) and (a == b).all() for a, b in zip(first, other))
    shuffled = [np.random.default_rng(0).permutation(n)[i:i + size] for i in range(0, n, size)]
    assert encoded.padded_count(first) < encoded.padded_count(shuffled) <= n * 32


def test_bucketed_teacher_training_learns(tiny, tmp_path):
    backbone, preprocessor = tiny
    from kdkeras.data.hedwig import Split

    labels = np.asarray([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1], [1, 0], [1, 0], [0, 1]] * 3, "int8")
    train = Split(TEXTS, labels, "toy")
    model = DocBERT(backbone, num_classes=2)
    result = training.fit_teacher(model, preprocessor, train, train, False, epochs=8, batch_size=4, learning_rate=1e-3,
                                  work_dir=str(tmp_path), jit_compile=False, verbose=0)
    loss = result["history"]["loss"]
    assert len(loss) == 8 and loss[-1] < loss[0] and result["dev_score"] > 60


def _train_tiny_teacher(tiny_texts, work_dir):
    import keras

    from kdkeras.data.hedwig import Split

    backbone, preprocessor = load_backbone("tiny", 32, train_texts=tiny_texts, seed=0)
    keras.utils.set_random_seed(0)
    labels = np.asarray([[1, 0], [1, 0], [0, 1], [0, 1], [0, 1], [1, 0], [1, 0], [0, 1]] * 3, "int8")
    model = DocBERT(backbone, num_classes=2)
    result = training.fit_teacher(model, preprocessor, Split(TEXTS, labels, "toy"), Split(TEXTS, labels, "toy"),
                                  True, epochs=3, batch_size=4, learning_rate=1e-3, work_dir=work_dir, jit_compile=False,
                                  verbose=0)
    return result, [w.numpy() for w in model.weights]


@pytest.mark.slow  # a resume test: three teacher trainings
def test_bucketed_teacher_training_resumes_to_the_same_result(tmp_path, monkeypatch):
    reference = assert_resumes_to_the_same_result(lambda work: _train_tiny_teacher(TEXTS, work), tmp_path, monkeypatch)
    assert len(reference["history"]["loss"]) == 3


def test_each_epoch_reads_its_own_batches(tiny):
    _, preprocessor = tiny
    encoded = buckets.encode(TEXTS, preprocessor, buckets=SMALL)
    epochs = buckets.BucketedEpochs(encoded, np.arange(len(TEXTS)), batch_size=5, seed=1)
    for epoch in (0, 3):
        epochs.on_epoch_begin(epoch)
        got = [y.numpy().tolist() for _, y in epochs.dataset()]
        assert got == [b.tolist() for b in buckets.training_batches(encoded, 5, 1, epoch)]


def test_the_tokenising_graph_is_traced_once_per_preprocessor(tiny):
    _, preprocessor = tiny
    buckets.encode(TEXTS, preprocessor, buckets=SMALL)
    graph = buckets._graph(preprocessor)
    buckets.encode(TEXTS[:2], preprocessor, buckets=SMALL)  # another batch size: the same trace
    assert buckets._graph(preprocessor) is graph and graph.experimental_get_tracing_count() == 1
