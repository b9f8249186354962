"""Shared fixtures: tiny datasets written by the tests themselves."""

import functools
import gzip
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Commands called in-process must not re-plumb the test runner's stderr (kdkeras.logs); tests/logs_test.py
# checks the filter in child processes.
os.environ.setdefault("KDKERAS_VERBOSE", "1")

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")

TOPICS = {
    "grain": ["wheat", "corn", "harvest", "bushels", "crop", "farmers", "grain", "export"],
    "oil": ["crude", "barrels", "opec", "refinery", "oil", "pipeline", "energy", "output"],
    "money": ["dollar", "bank", "rates", "yen", "currency", "interest", "central", "markets"],
}
FILLER = ["the", "said", "in", "a", "on", "for", "week", "reported", "officials", "year"]


def make_docs(n, seed=0, multi_label=True):
    """Learnable toy documents: topic words decide the labels."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    rows = []
    for _ in range(n):
        if multi_label:
            on = [i for i in range(len(names)) if rng.random() < 0.4] or [int(rng.integers(len(names)))]
        else:
            on = [int(rng.integers(len(names)))]
        words = []
        for i in on:
            words += list(rng.choice(TOPICS[names[i]], size=6))
        words += list(rng.choice(FILLER, size=8))
        rng.shuffle(words)
        bits = "".join("1" if i in on else "0" for i in range(len(names)))
        rows.append((bits, " ".join(words) + " ."))
    return rows


def write_hedwig(directory, splits, labels=True, gz=False):
    os.makedirs(directory, exist_ok=True)
    for split, rows in splits.items():
        path = os.path.join(directory, f"{split}.tsv" + (".gz" if gz else ""))
        data = "".join(f"{bits}\t{text}\n" for bits, text in rows).encode("utf-8")
        if gz:
            with gzip.open(path, "wb") as f:
                f.write(data)
        else:
            with open(path, "wb") as f:
                f.write(data)
    if labels:
        with open(os.path.join(directory, "labels.txt"), "w") as f:
            f.write("\n".join(TOPICS) + "\n")
    return directory


@pytest.fixture
def toy_dir(tmp_path):
    """A small multi-label dataset in hedwig layout (train/dev/test)."""
    return write_hedwig(
        str(tmp_path / "toy"),
        {"train": make_docs(160, 0), "dev": make_docs(40, 1), "test": make_docs(40, 2)},
    )


TINY_STUDENTS = {
    "lstm": dict(embedding_dim=16, hidden_dim=16, dropout=0.0),
    "kimcnn": dict(embedding_dim=16, filters=8, dropout=0.0),
    "lr": dict(),
}


@functools.lru_cache(maxsize=None)
def train_toy_student(name, multi_label=True, epochs=3, sequence_length=40):
    """`(student, tokenizer, texts)`: a tiny student briefly trained on `make_docs` (outputs not trivial).

    Cached per test process: callers must not train or modify the student.
    """
    import keras

    from kdkeras.models import build_student, get_student
    from kdkeras.text import WordTokenizer

    rows = make_docs(240, seed=3, multi_label=multi_label)
    texts = [t for _, t in rows]
    labels = np.array([[int(b) for b in bits] for bits, _ in rows], "float32")
    spec = get_student(name)
    tokenizer = WordTokenizer.adapt(texts, 500, sequence_length, spec.features)
    keras.utils.set_random_seed(0)
    student = build_student(name, tokenizer.vocabulary_size, labels.shape[1], seed=0, **TINY_STUDENTS[name])
    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if multi_label
            else keras.losses.CategoricalCrossentropy(from_logits=True))
    student.compile(spec.optimizer(learning_rate=1e-1 if name == "lr" else 1e-2, use_ema=False), loss)
    student.fit(np.asarray(tokenizer(texts)), labels, epochs=epochs, batch_size=32, verbose=0)
    return student, tokenizer, texts


def write_file(path, data, gz=False):
    """Writes `data` (str or bytes) to `path`, gzipped when `gz`; returns the path as a string."""
    import gzip

    data = data.encode("utf-8") if isinstance(data, str) else data
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return str(path)
