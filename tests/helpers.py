"""Test helpers: tiny datasets, files and students the tests make themselves.

Plain functions (fixtures live in `tests/conftest.py`); import them with
`from tests.helpers import make_docs, write_hedwig, ...`.
"""

import functools
import gzip
import json
import os
import shutil

import numpy as np

from components.artifacts import SCHEMA_FILE, read_split
from components.base import METADATA_FILE, Artifact, Component, ComponentSpec

# The owner's data beside the repository (absent in a fresh clone: tests that need it skip).
SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")

TOPICS = {
    "grain": ["wheat", "corn", "harvest", "bushels", "crop", "farmers", "grain", "export"],
    "oil": ["crude", "barrels", "opec", "refinery", "oil", "pipeline", "energy", "output"],
    "money": ["dollar", "bank", "rates", "yen", "currency", "interest", "central", "markets"],
}
FILLER = ["the", "said", "in", "a", "on", "for", "week", "reported", "officials", "year"]

# Teacher batches: documents of 1 to 24 word pieces for the tiny 32-piece backbone, and length buckets to cut them in.
BUCKET_TEXTS = ["oil", "oil prices rose sharply in march", "wheat exports fell " * 6, "the dollar gained against the yen",
                "grain", "bank rate loan " * 3, "crude barrel", "the of and " * 8] * 3
SMALL_BUCKETS = [8, 16, 24, 32]


def make_docs(n, seed=0, multi_label=True):
    """Learnable toy documents: topic words decide the labels.

    Returns:
        `n` rows `(bits, text)`: hedwig label bits over `TOPICS` and the text.
    """
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


def write_file(path, data, gz=False):
    """Writes `data` (str or bytes) to `path`, gzipped when `gz`; returns the path as a string."""
    path = str(path)
    data = data.encode("utf-8") if isinstance(data, str) else data
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)
    return path


def write_hedwig(directory, splits, labels=True, gz=False):
    """A dataset folder in hedwig layout: `<split>.tsv[.gz]` per `{split: rows}` and `labels.txt` (`TOPICS`).

    Returns:
        `directory`.
    """
    os.makedirs(directory, exist_ok=True)
    for split, rows in splits.items():
        write_file(os.path.join(directory, f"{split}.tsv" + (".gz" if gz else "")),
                   "".join(f"{bits}\t{text}\n" for bits, text in rows), gz)
    if labels:
        with open(os.path.join(directory, "labels.txt"), "w") as f:
            f.write("\n".join(TOPICS) + "\n")
    return directory


TINY_STUDENTS = {
    "lstm": dict(embedding_dim=16, hidden_dim=16, dropout=0.0),
    "kimcnn": dict(embedding_dim=16, filters=8, dropout=0.0),
    "lr": dict(),
    "boe": dict(embedding_dim=16),
}


@functools.lru_cache(maxsize=None)
def train_toy_student(name, multi_label=True, epochs=3, sequence_length=40, hparams=()):
    """`(student, tokenizer, texts)`: a tiny student briefly trained on `make_docs` (outputs not trivial).

    `hparams`: `(key, value)` pairs added to the tiny hyperparameters.
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
    student = build_student(name, tokenizer.vocabulary_size, labels.shape[1], seed=0,
                            **{**TINY_STUDENTS[name], **dict(hparams)})
    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if multi_label
            else keras.losses.CategoricalCrossentropy(from_logits=True))
    student.compile(spec.optimizer(learning_rate=1e-1 if name == "lr" else 1e-2, use_ema=False), loss)
    student.fit(np.asarray(tokenizer(texts)), labels, epochs=epochs, batch_size=32, verbose=0)
    return student, tokenizer, texts


def quiet(*_):
    """A `log` for `Component.run` that drops the progress lines."""


def smoke_settings(student=None):
    """The `smoke` profile's TeacherTrainer parameters (no `student`) or StudentTrainer parameters of `student`.

    Example:
    >>> StudentTrainer(student="lstm", **smoke_settings("lstm"))
    """
    from pipelines import configs

    config = configs.build_config("custom", True, "smoke")
    if student is None:
        return dict(config["teacher"])
    return {**config["student"], **config["students"][student]}


def fake_artifact(path, results, **metadata):
    """A finished artifact holding only `metadata.json` (`results`, a fingerprint and `metadata`); returns it."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, METADATA_FILE), "w") as f:
        json.dump({"results": results, "fingerprint": json.dumps(results, sort_keys=True), **metadata}, f)
    return Artifact(path)


def teacher_trained_on(teacher, directory, length):
    """A copy of a TeacherTrainer artifact whose preprocessor says `length` word pieces: a teacher trained on
    `length` that can read as many as its position embeddings cover (the tiny backbone's: its training length)."""
    import json
    import shutil

    from components.base import Artifact

    shutil.copytree(teacher.uri, directory)
    path = os.path.join(directory, "preprocessor", "preprocessor.json")
    with open(path) as f:
        settings = json.load(f)
    with open(path, "w") as f:
        json.dump({**settings, "sequence_length": length}, f)
    return Artifact(directory)


def labels_as_logits(labels, shift=0, scale=4.0):
    """Confident teacher logits: ±`scale` from label bits rolled by `shift` classes (0: a teacher that is always right)."""
    return (scale * (2 * np.roll(np.asarray(labels, np.float32), shift, axis=1) - 1)).astype(np.float32)


def stored_logits(examples, pipeline_root, name="TeacherInference", **parameters):
    """A TeacherInference stand-in run on an ExampleGen artifact: its splits with `labels_as_logits`, and its schema.

    Args:
        examples: an ExampleGen artifact.
        pipeline_root: where the artifact goes (folder `name`).
        **parameters: `shift`, `scale` (see `labels_as_logits`), `splits`.
    """
    return _StoredLogits(name=name, **parameters).run({"examples": examples}, str(pipeline_root), log=quiet)


class _StoredLogits(Component):
    SPEC = ComponentSpec(inputs=("examples",), parameters=dict(shift=0, scale=4.0, splits=["train", "dev", "test"]))

    def execute(self, inputs, output_dir, work_dir):
        from kdkeras.data import examples

        p = self.parameters
        for name in p["splits"]:
            split, _ = read_split(inputs["examples"], name)
            examples.write_split(os.path.join(output_dir, f"Split-{name}"), split,
                                 labels_as_logits(split.labels, p["shift"], p["scale"]))
        shutil.copy(inputs["examples"].path(SCHEMA_FILE), os.path.join(output_dir, SCHEMA_FILE))
        return {}


class Killed(Exception):
    """Raised by `assert_resumes_to_the_same_result` to stop a training after an epoch's backup."""


def assert_resumes_to_the_same_result(train, work_dir, monkeypatch, kill_after_epoch=1):
    """Checks that a training killed after an epoch's backup and started again ends as an uninterrupted one.

    Args:
        train: `work_dir -> (result dict, list of weight arrays)`, a whole training.
        work_dir: a pytest `tmp_path`.
        monkeypatch: the pytest fixture.
        kill_after_epoch: the epoch (0-based) after whose backup the first try stops.

    Returns:
        The uninterrupted training's result.
    """
    from kdkeras import callbacks

    reference, reference_weights = train(str(work_dir / "ref"))
    original = callbacks.EpochBackup.on_epoch_end

    def killed(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == kill_after_epoch:
            raise Killed()

    with monkeypatch.context() as m:
        m.setattr(callbacks.EpochBackup, "on_epoch_end", killed)
        try:
            train(str(work_dir / "work"))
        except Killed:
            pass
        else:
            raise AssertionError("the training was not stopped")
    resumed, resumed_weights = train(str(work_dir / "work"))
    assert resumed == reference
    for a, b in zip(reference_weights, resumed_weights):
        np.testing.assert_array_equal(a, b)
    return reference
