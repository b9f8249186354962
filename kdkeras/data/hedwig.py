"""Reader for the hedwig document-classification layout.

A hedwig dataset directory holds ``train.tsv``, ``dev.tsv`` and ``test.tsv``
(each optionally gzipped), one document per line as ``LABELBITS<TAB>TEXT``,
and optionally ``labels.txt`` with one class name per line in bit order.
"""

import dataclasses
import gzip
import hashlib
import os

import numpy as np

SPLITS = ("train", "dev", "test")


class DataError(ValueError):
    """Malformed or missing input data. The message names the file and line."""


@dataclasses.dataclass
class Split:
    """One split of a dataset held in memory.

    Attributes:
        texts: list of document strings.
        labels: int8 array of shape `(num_docs, num_classes)`, multi-hot bits.
        source: where the split was read from (file path, or a description).
    """

    texts: list
    labels: np.ndarray
    source: str = ""

    def __len__(self):
        return len(self.texts)

    def class_ids(self):
        """Class index per document (for single-label data)."""
        return self.labels.argmax(axis=1).astype("int32")


def find_split_file(data_dir, split):
    """Returns the path of `split` in `data_dir` (`.tsv` or `.tsv.gz`), or None."""
    for name in (f"{split}.tsv", f"{split}.tsv.gz"):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    return None


def read_labels_file(path):
    """Reads `labels.txt`: one class name per line, in bit order."""
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f]
    while names and not names[-1]:
        names.pop()
    for i, name in enumerate(names, 1):
        if not name:
            raise DataError(f"{path}:{i}: empty class name")
    if len(set(names)) != len(names):
        raise DataError(f"{path}: duplicate class names")
    return names


def read_split(path, num_classes=None, multi_label=True):
    """Reads one hedwig TSV file (plain or gzipped) into a `Split`.

    Every row is validated: it must have a tab, a label field of exactly
    `num_classes` characters each `0` or `1`, and non-empty text. For
    single-label data exactly one bit must be set. The first bad row stops
    the read with a `DataError` naming the file and line.

    Args:
        path: path of a `.tsv` or `.tsv.gz` file.
        num_classes: expected label width; inferred from the first row if None.
        multi_label: if False, each row must have exactly one bit set.

    Returns:
        A `Split`.

    Example:
    >>> split = read_split("data/reuters/train.tsv.gz", num_classes=90)
    >>> split.labels.shape
    (5797, 90)
    """
    opener = gzip.open if path.endswith(".gz") else open
    texts, rows = [], []
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as e:
                    raise DataError(f"{path}:{lineno}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
                if not line.strip():
                    raise DataError(f"{path}:{lineno}: empty line")
                if "\t" not in line:
                    raise DataError(f"{path}:{lineno}: no tab between label bits and text")
                bits, text = line.split("\t", 1)
                bits = bits.strip()
                if num_classes is None:
                    num_classes = len(bits)
                if len(bits) != num_classes:
                    raise DataError(
                        f"{path}:{lineno}: label field has {len(bits)} bits, expected {num_classes}"
                    )
                if bits.strip("01"):
                    raise DataError(f"{path}:{lineno}: label field {bits[:40]!r} is not a string of 0/1 bits")
                if not multi_label and bits.count("1") != 1:
                    raise DataError(
                        f"{path}:{lineno}: single-label data needs exactly one bit set, found {bits.count('1')}"
                    )
                text = text.strip()
                if not text:
                    raise DataError(f"{path}:{lineno}: empty text")
                texts.append(text)
                rows.append(bits)
    except (OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise DataError(f"{path}: file not found") from None
        raise DataError(f"{path}: cannot read ({e})") from None
    if not texts:
        raise DataError(f"{path}: no documents")
    labels = np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8) - ord("0")
    labels = labels.reshape(len(rows), num_classes).astype(np.int8)
    return Split(texts=texts, labels=labels, source=path)


def carve_dev(train, fraction=0.1):
    """Deterministically splits `fraction` of `train` off as a dev split.

    A document goes to dev when the SHA-256 of its text falls in the first
    `fraction` of the hash space, so the carve-out does not depend on row
    order or on a random seed.

    Returns:
        `(train, dev)` as two `Split`s.
    """
    digits = np.array(
        [int(hashlib.sha256(t.encode("utf-8")).hexdigest()[:8], 16) for t in train.texts],
        dtype=np.float64,
    )
    is_dev = digits / 16**8 < fraction
    if is_dev.all() or not is_dev.any():  # tiny splits: fall back to every k-th doc
        is_dev = np.zeros(len(train), bool)
        is_dev[:: max(2, int(round(1 / fraction)))] = True
    idx_train, idx_dev = np.flatnonzero(~is_dev), np.flatnonzero(is_dev)
    take = lambda idx, name: Split(
        [train.texts[i] for i in idx], train.labels[idx], f"{train.source} ({name} carve-out)"
    )
    return take(idx_train, "train"), take(idx_dev, "dev")
