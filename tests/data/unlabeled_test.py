"""Unlabelled documents for the transfer set: text lines or JSON lines, validated row by row."""

import json

import pytest

from kdkeras.data import hedwig
from kdkeras.data.unlabeled import read_unlabeled
from tests.helpers import write_file


def test_text_lines_plain_and_gzipped_with_a_byte_order_mark(tmp_path):
    data = "\ufeffwheat  exports rose\n\n   \ncrude oil fell\r\n".encode("utf-8")
    for gz in (False, True):
        path = write_file(tmp_path / ("u.txt.gz" if gz else "u.txt"), data, gz)
        texts, skipped = read_unlabeled(str(path))
        assert texts == ["wheat exports rose", "crude oil fell"] and skipped == []
    assert read_unlabeled(str(path), limit=1)[0] == ["wheat exports rose"]


def test_json_lines_take_the_text_field(tmp_path):
    rows = [{"text": "bank rate cut", "id": 1}, {"text": "grain", "labels": ["ignored"]}]
    data = b"\xef\xbb\xbf" + "\n".join(json.dumps(r) for r in rows).encode() + b"\n\n"
    for gz in (False, True):
        path = write_file(tmp_path / ("u.jsonl.gz" if gz else "u.jsonl"), data, gz)
        assert read_unlabeled(str(path))[0] == ["bank rate cut", "grain"]


@pytest.mark.parametrize("name, data, message", [
    ("u.txt", b"fine\nbad \xff byte\n", r"u\.txt:2: not valid UTF-8"),
    ("u.jsonl", b'{"text": "ok"}\n{"text": ""}\n', r"u\.jsonl:2: missing or empty 'text'"),
    ("u.jsonl", b'{"text": "ok"}\n{"txt": "x"}\n', r"u\.jsonl:2: missing or empty 'text'"),
    ("u.jsonl", b'{"text": "ok"}\nnot json\n', r"u\.jsonl:2: not valid JSON"),
    ("u.txt", b"\n  \n", r"u\.txt: no unlabelled documents"),
])
def test_bad_rows_name_the_file_and_line(tmp_path, name, data, message):
    path = write_file(tmp_path / name, data)
    with pytest.raises(hedwig.DataError, match=message):
        read_unlabeled(str(path))


def test_skip_mode_counts_bad_rows(tmp_path):
    path = write_file(tmp_path / "u.jsonl", b'{"text": "ok"}\n{"text": 3}\n{"text": "fine"}\n')
    texts, skipped = read_unlabeled(str(path), on_bad_row="skip")
    assert texts == ["ok", "fine"] and len(skipped) == 1 and skipped[0].line == 2


def test_missing_file(tmp_path):
    with pytest.raises(hedwig.DataError, match="file not found"):
        read_unlabeled(str(tmp_path / "nope.txt"))
