"""Reader for datasets as JSON lines with label names.

A friendlier alternative to hedwig's bit strings for your own data: a folder
holds ``labels.txt`` (one class name per line; the order is the model's
output order) and ``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` (each
optionally gzipped), one JSON object per line::

    {"text": "wheat and corn exports rose", "labels": ["grain", "trade"]}   # multi-label
    {"text": "a wonderful film", "label": "pos"}                           # single-label

Multi-label rows give a list of names under ``"labels"`` (or one name under
``"label"``); single-label rows give one name under ``"label"`` (or a
one-name list under ``"labels"``). Blank lines are ignored. Every name must
be in ``labels.txt``. Other keys are ignored.
"""

import json

import numpy as np

from kdkeras.data import hedwig
from kdkeras.data.hedwig import BadRowError, DataError, Split, check_on_bad_row

_SHOWN_NAMES = 10


def find_split_file(data_dir, split):
    """Returns the path of `split` in `data_dir` (`.jsonl` or `.jsonl.gz`), or None."""
    return hedwig.find_split_file(data_dir, split, ".jsonl")


def read_split(path, label_names, multi_label=True, on_bad_row="raise"):
    """Reads one JSON-lines file (plain or gzipped) into a `Split`.

    Args:
        path: path of a `.jsonl` or `.jsonl.gz` file.
        label_names: the class names from `labels.txt`, in output order.
        multi_label: rows may name several labels (True) or exactly one.
        on_bad_row: `"raise"` (default): the first bad row stops the read
            with a `DataError` naming the file and line; `"skip"`: bad rows
            are left out and listed in `Split.skipped`.

    Returns:
        A `Split` with multi-hot (or one-hot) labels in `label_names` order.

    Example:
    >>> split = read_split("data/mine/train.jsonl", ["earn", "grain", "trade"])
    >>> split.labels[0]
    array([0, 1, 1], dtype=int8)
    """
    check_on_bad_row(on_bad_row)
    if not label_names:
        raise DataError(f"{path}: needs labels.txt (one class name per line) beside it to define the classes")
    index = {name: i for i, name in enumerate(label_names)}
    rows, skipped = hedwig.read_rows(
        path, lambda lineno, raw: _parse_row(path, lineno, raw, index, multi_label), on_bad_row)
    labels = np.zeros((len(rows), len(label_names)), np.int8)
    for i, (_, on) in enumerate(rows):
        labels[i, on] = 1
    return Split(texts=[text for text, _ in rows], labels=labels, source=path, skipped=skipped)


def parse_object(path, lineno, raw):
    """The JSON object on one raw line, None for a blank line, or raises `BadRowError`."""
    line = hedwig.decode_line(path, lineno, raw)
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadRowError(path, lineno, "not JSON", f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(row, dict):
        raise BadRowError(path, lineno, "not JSON", f"expected a JSON object, got {type(row).__name__}")
    return row


def _parse_row(path, lineno, raw, index, multi_label):
    """`(text, label ids)` of one line, None for a blank line, or raises `BadRowError`."""
    row = parse_object(path, lineno, raw)
    if row is None:
        return None
    text = text_field(path, lineno, row)
    if "labels" in row:
        names = row["labels"]
        if not isinstance(names, list):
            raise BadRowError(path, lineno, "label type", f"'labels' must be a list of label names, got {names!r:.60}")
    elif "label" in row:
        names = [row["label"]]
    else:
        raise BadRowError(path, lineno, "no label", "no 'labels' (list of names) or 'label' (one name)")
    ids = []
    for name in names:
        if not isinstance(name, str):
            raise BadRowError(path, lineno, "label type", f"label {name!r:.60} is not a label name (string)")
        if name not in index:
            known = list(index)
            shown = ", ".join(known[:_SHOWN_NAMES])
            if len(known) > _SHOWN_NAMES:
                shown += f", … ({len(known)} in all)"
            raise BadRowError(path, lineno, "unknown label", f"label {name!r:.60} not in labels.txt ({shown})")
        ids.append(index[name])
    ids = sorted(set(ids))
    if not multi_label and len(ids) != 1:
        raise BadRowError(path, lineno, "label count", f"single-label data needs exactly one label, found {len(ids)}")
    return text, ids


def text_field(path, lineno, row):
    """The row's `"text"` on one line (whitespace runs become one space, as in hedwig's TSV), or raises `BadRowError`."""
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRowError(path, lineno, "empty text", "missing or empty 'text'")
    return " ".join(text.split())
