"""Reader for unlabelled in-domain documents, which the teacher labels for the transfer set.

Two formats, each plain or gzipped:

- ``.jsonl`` / ``.jsonl.gz``: one JSON object per line with a ``"text"``
  string (other keys, labels included, are ignored);
- anything else (e.g. ``.txt``): one document per line.

Blank lines are ignored; a UTF-8 byte-order mark at the start of the file is
accepted. Every other line is validated like the labelled splits: the first
bad one (not UTF-8, not JSON, no text) stops the read with a `DataError`
naming the file and line, or, with ``on_bad_row="skip"``, is left out and
listed.

Example:
>>> texts, skipped = read_unlabeled("data/news/unlabeled.txt.gz")
"""

from kdkeras.data import hedwig
from kdkeras.data.hedwig import DataError, check_on_bad_row
from kdkeras.data.jsonl import parse_object, text_field


def is_jsonl(path):
    """Whether `path` is read as JSON lines (by its name)."""
    return path.endswith((".jsonl", ".jsonl.gz"))


def read_unlabeled(path, on_bad_row="raise", limit=None):
    """Reads unlabelled documents; returns `(texts, skipped)`.

    Args:
        path: a text or JSON-lines file, plain or gzipped.
        on_bad_row: `"raise"` (default) or `"skip"`.
        limit: keep only the first N documents.

    Returns:
        The documents' texts (whitespace runs become one space, as for the
        labelled splits) and the `BadRow`s left out.

    Raises:
        DataError: naming the file (and line) of a bad row, an unreadable
            file, or a file without documents.
    """
    check_on_bad_row(on_bad_row)
    jsonl = is_jsonl(path)

    def parse(lineno, raw):
        if jsonl:
            row = parse_object(path, lineno, raw)
            return None if row is None else text_field(path, lineno, row)
        text = hedwig.decode_line(path, lineno, raw)
        return " ".join(text.split()) or None

    if not isinstance(path, str) or not path:
        raise DataError(f"{path!r}: not a file path")
    return hedwig.read_rows(path, parse, on_bad_row, what="unlabelled documents", limit=limit)
