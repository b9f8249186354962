"""Reader for the hedwig document-classification layout.

A hedwig dataset directory holds ``train.tsv``, ``dev.tsv`` and ``test.tsv``
(each optionally gzipped), one document per line as ``LABELBITS<TAB>TEXT``,
and optionally ``labels.txt`` with one class name per line in bit order.

A bad row stops the read with a `DataError` naming the file and line, or,
with `on_bad_row="skip"`, is left out and recorded as a `BadRow` in
`Split.skipped`.
"""

import dataclasses
import gzip
import hashlib
import os

import numpy as np

SPLITS = ("train", "dev", "test")
ON_BAD_ROW = ("raise", "skip")


class DataError(ValueError):
    """Malformed or missing input data. The message names the file and line."""


@dataclasses.dataclass(frozen=True)
class BadRow:
    """A row that was skipped, and why.

    Attributes:
        path: the file.
        line: 1-based line number.
        reason: short category, e.g. `"no tab"`, `"label width"`, `"empty text"`.
        message: the full `path:line: ...` message.
    """

    path: str
    line: int
    reason: str
    message: str

    def __str__(self):
        return self.message


class BadRowError(DataError):
    """A `DataError` for one row; `row` is the `BadRow`."""

    def __init__(self, path, line, reason, detail):
        self.row = BadRow(path, line, reason, f"{path}:{line}: {detail}")
        super().__init__(self.row.message)


@dataclasses.dataclass
class Split:
    """One split of a dataset held in memory.

    Attributes:
        texts: list of document strings.
        labels: int8 array of shape `(num_docs, num_classes)`, multi-hot bits.
        source: where the split was read from (file path, or a description).
        skipped: `BadRow`s left out of the split (with `on_bad_row="skip"`).
        labeled: bool array, False for documents without labels (their
            label bits are all 0; a transfer set's unlabelled records), or
            None when every document is labelled.
    """

    texts: list
    labels: np.ndarray
    source: str = ""
    skipped: list = dataclasses.field(default_factory=list)
    labeled: np.ndarray = None

    def __len__(self):
        return len(self.texts)

    def class_ids(self):
        """Class index per document (for single-label data)."""
        return self.labels.argmax(axis=1).astype("int32")

    def subset(self, indices):
        """The documents `indices` (an index array), in that order, with their labels and `labeled` flags."""
        indices = np.asarray(indices, dtype=np.int64)
        return dataclasses.replace(self, texts=[self.texts[i] for i in indices], labels=self.labels[indices],
                                   labeled=None if self.labeled is None else self.labeled[indices])


BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark, as Windows editors and spreadsheet exports write
SKIP_HINT = "--skip-bad-rows (on_bad_row='skip') skips and counts them"


def decode_line(path, lineno, raw):
    """A raw line as text, or raises `BadRowError` saying it is not UTF-8 and how to fix it."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRowError(path, lineno, "not UTF-8", f"not valid UTF-8 ({e.reason} at byte {e.start}); "
                          "re-save the file as UTF-8") from None


def find_split_file(data_dir, split, extension=".tsv"):
    """Returns the path of `split` in `data_dir` (`<split><extension>`, plain or `.gz`), or None."""
    for name in (f"{split}{extension}", f"{split}{extension}.gz"):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    return None


def read_rows(path, parse, on_bad_row="raise", what="documents", limit=None):
    """Parses each line of a text file (plain or gzipped) with `parse(lineno, raw_bytes)`.

    Shared by the readers of every format: `parse` returns a row, None for a
    line to ignore, or raises `BadRowError`, which stops the read
    (`on_bad_row="raise"`) or is recorded and skipped (`"skip"`). A UTF-8
    byte-order mark at the start of the file is dropped. When the first bad
    row stops the read, the rest of the file is still parsed (one pass) so
    that the error can say how many more rows are bad.

    Args:
        path: the file.
        parse: `(lineno, raw) -> row | None`.
        on_bad_row: "raise" or "skip".
        what: what the rows are, for the empty-file message.
        limit: stop after this many rows.

    Returns:
        `(rows, skipped)`: the parsed rows and the `BadRow`s left out.

    Raises:
        DataError: a bad row (when raising), an unreadable file, or no rows.
    """
    check_on_bad_row(on_bad_row)
    opener = gzip.open if path.endswith(".gz") else open
    rows, skipped, first_error = [], [], None
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if limit and len(rows) >= limit and first_error is None:
                    break
                if lineno == 1:
                    raw = raw.removeprefix(BOM)
                try:
                    row = parse(lineno, raw)
                except BadRowError as e:
                    if on_bad_row == "raise" and first_error is None:
                        first_error = e
                    skipped.append(e.row)
                    continue
                if row is not None and first_error is None:
                    rows.append(row)
    except (OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise DataError(f"{path}: file not found") from None
        raise DataError(f"{path}: cannot read ({e})") from None
    if first_error is not None:
        more = len(skipped) - 1
        count = f"{more} more bad row{'s' if more != 1 else ''} in this file; " if more else ""
        first_error.args = (f"{first_error} ({count}{SKIP_HINT})",)
        raise first_error
    if not rows:
        raise DataError(f"{path}: no {what}" + (f" ({len(skipped)} bad rows skipped)" if skipped else ""))
    return rows, skipped


def check_on_bad_row(on_bad_row):
    """Raises `ValueError` unless `on_bad_row` is `"raise"` or `"skip"`."""
    if on_bad_row not in ON_BAD_ROW:
        raise ValueError(f"on_bad_row must be one of {ON_BAD_ROW}, got {on_bad_row!r}")


def read_labels_file(path):
    """Reads `labels.txt`: one class name per line, in bit order."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    names = [decode_line(path, i, line).strip() for i, line in enumerate(raw.removeprefix(BOM).splitlines(), 1)]
    while names and not names[-1]:
        names.pop()
    for i, name in enumerate(names, 1):
        if not name:
            raise DataError(f"{path}:{i}: empty class name")
    if len(set(names)) != len(names):
        raise DataError(f"{path}: duplicate class names")
    return names


def read_split(path, num_classes=None, multi_label=True, on_bad_row="raise"):
    """Reads one hedwig TSV file (plain or gzipped) into a `Split`.

    Every row is validated: it must be UTF-8, have a tab, a label field of
    exactly `num_classes` characters each `0` or `1`, and non-empty text.
    For single-label data exactly one bit must be set. By default the first
    bad row stops the read with a `DataError` naming the file and line.

    Args:
        path: path of a `.tsv` or `.tsv.gz` file.
        num_classes: expected label width; inferred from the first good row
            if None.
        multi_label: if False, each row must have exactly one bit set.
        on_bad_row: `"raise"` (default) or `"skip"`: leave bad rows out and
            list them in `Split.skipped` (file, line, reason). A file with no
            good row is an error either way.

    Returns:
        A `Split`.

    Example:
    >>> split = read_split("data/reuters/train.tsv.gz", num_classes=90)
    >>> split.labels.shape
    (5797, 90)
    """
    width = [num_classes]  # the first good row fixes the width when not given

    def parse(lineno, raw):
        bits, text = _parse_row(path, lineno, raw, width[0], multi_label)
        width[0] = len(bits)
        return bits, text

    rows, skipped = read_rows(path, parse, on_bad_row)
    texts = [text for _, text in rows]
    labels = np.frombuffer("".join(bits for bits, _ in rows).encode("ascii"), dtype=np.uint8) - ord("0")
    labels = labels.reshape(len(rows), width[0]).astype(np.int8)
    return Split(texts=texts, labels=labels, source=path, skipped=skipped)


def first_label_width(path):
    """`(line, bits)`: the width of the label field on the first line of a TSV file that has one, or None."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if lineno == 1:
                    raw = raw.removeprefix(BOM)
                if b"\t" in raw:
                    bits = raw.split(b"\t", 1)[0].strip()
                    return (lineno, len(bits)) if bits and not bits.strip(b"01") else None
    except (OSError, EOFError):
        return None  # read_split says what is wrong with the file
    return None


def _parse_row(path, lineno, raw, num_classes, multi_label):
    """`(bits, text)` of one raw TSV line, or raises `BadRowError`."""
    line = decode_line(path, lineno, raw).rstrip("\r\n")
    if not line.strip():
        raise BadRowError(path, lineno, "empty line", "empty line")
    if "\t" not in line:
        raise BadRowError(path, lineno, "no tab", "no tab between label bits and text")
    bits, text = line.split("\t", 1)
    bits = bits.strip()
    if num_classes is not None and len(bits) != num_classes:
        raise BadRowError(path, lineno, "label width", f"label field has {len(bits)} bits, expected {num_classes}")
    if not bits or bits.strip("01"):
        raise BadRowError(path, lineno, "label bits", f"label field {bits[:40]!r} is not a string of 0/1 bits")
    if not multi_label and bits.count("1") != 1:
        raise BadRowError(path, lineno, "label count",
                          f"single-label data needs exactly one bit set, found {bits.count('1')}")
    text = text.strip()
    if not text:
        raise BadRowError(path, lineno, "empty text", "empty text")
    return bits, text


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
    take = lambda idx, name, skipped: Split(
        [train.texts[i] for i in idx], train.labels[idx], f"{train.source} ({name} carve-out)", skipped
    )
    # Rows skipped while reading belong to the train file, so they stay with train.
    return take(idx_train, "train", list(train.skipped)), take(idx_dev, "dev", [])
