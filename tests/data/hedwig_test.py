import numpy as np
import pytest

from kdkeras.data import hedwig
from tests.helpers import write_file


write = write_file


def test_reads_plain_and_gzip(tmp_path):
    content = "101\tfirst doc\n010\tsecond doc\n"
    for gz in (False, True):
        split = hedwig.read_split(write(tmp_path / ("x.tsv.gz" if gz else "x.tsv"), content, gz), 3)
        assert split.texts == ["first doc", "second doc"]
        np.testing.assert_array_equal(split.labels, [[1, 0, 1], [0, 1, 0]])


@pytest.mark.parametrize(
    "content, message",
    [
        ("101\tok\n10\tshort bits\n", "x.tsv:2: label field has 2 bits, expected 3"),
        ("101\tok\n101 no tab here\n", "x.tsv:2: no tab"),
        ("101\tok\n011\t   \n", "x.tsv:2: empty text"),
        ("101\tok\n1a1\ttext\n", "x.tsv:2: label field"),
        ("101\tok\n\n", "x.tsv:2: empty line"),
        (b"101\tok\n101\tbad \xff byte\n", "x.tsv:2: not valid UTF-8"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, content, message):
    with pytest.raises(hedwig.DataError, match=message.replace(".", r"\.")):
        hedwig.read_split(write(tmp_path / "x.tsv", content), 3)


def test_the_first_bad_row_says_how_many_more_are_bad_and_how_to_skip_them(tmp_path):
    path = write(tmp_path / "x.tsv", "101\tok\n10\tshort\n101\tfine\n1\tx\n101 no tab\n")
    with pytest.raises(hedwig.DataError) as e:
        hedwig.read_split(path, 3)
    assert str(e.value).endswith("x.tsv:2: label field has 2 bits, expected 3 (2 more bad rows in this file; "
                                 "--skip-bad-rows (on_bad_row='skip') skips and counts them)")
    one = write(tmp_path / "y.tsv", "101\tok\n10\tshort\n")
    with pytest.raises(hedwig.DataError, match=r"y\.tsv:2: .* \(--skip-bad-rows \(on_bad_row='skip'\) skips"):
        hedwig.read_split(one, 3)
    latin = write(tmp_path / "z.tsv", b"101\tcaf\xe9\n")
    with pytest.raises(hedwig.DataError, match=r"z\.tsv:1: not valid UTF-8 .*; re-save the file as UTF-8"):
        hedwig.read_split(latin, 3)


def test_single_label_needs_one_bit(tmp_path):
    path = write(tmp_path / "x.tsv", "100\tok\n110\ttwo labels\n")
    with pytest.raises(hedwig.DataError, match=r"x\.tsv:2: single-label data needs exactly one bit"):
        hedwig.read_split(path, 3, multi_label=False)
    assert hedwig.read_split(path, 3, multi_label=True).labels.shape == (2, 3)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(hedwig.DataError, match="file not found"):
        hedwig.read_split(str(tmp_path / "nope.tsv"))
    with pytest.raises(hedwig.DataError, match="no documents"):
        hedwig.read_split(write(tmp_path / "e.tsv", ""))


def test_carve_dev_is_deterministic_and_disjoint():
    texts = [f"document number {i}" for i in range(1000)]
    split = hedwig.Split(texts, np.eye(2, dtype=np.int8)[np.arange(1000) % 2], "mem")
    train, dev = hedwig.carve_dev(split, 0.1)
    assert 60 < len(dev) < 140
    assert len(train) + len(dev) == 1000
    assert not set(train.texts) & set(dev.texts)
    # Independent of row order.
    shuffled = hedwig.Split(texts[::-1], split.labels[::-1], "mem")
    assert sorted(hedwig.carve_dev(shuffled, 0.1)[1].texts) == sorted(dev.texts)
    # Labels travel with their documents.
    for text, bits in zip(dev.texts, dev.labels):
        assert bits[int(text.split()[-1]) % 2] == 1


def test_labels_file(tmp_path):
    (tmp_path / "labels.txt").write_text("a\nb\n\n")
    assert hedwig.read_labels_file(str(tmp_path / "labels.txt")) == ["a", "b"]
    (tmp_path / "dup.txt").write_text("a\na\n")
    with pytest.raises(hedwig.DataError, match="duplicate"):
        hedwig.read_labels_file(str(tmp_path / "dup.txt"))


def test_skip_bad_rows_lists_file_line_and_reason(tmp_path):
    content = b"101\tok\n10\tshort\n101 no tab\n011\t  \n101\tbad \xff\n\n1a1\tx\n110\tfine too\n"
    path = write(tmp_path / "x.tsv", content)
    split = hedwig.read_split(path, 3, on_bad_row="skip")
    assert split.texts == ["ok", "fine too"]
    assert [(r.line, r.reason) for r in split.skipped] == [
        (2, "label width"), (3, "no tab"), (4, "empty text"), (5, "not UTF-8"), (6, "empty line"), (7, "label bits")]
    assert str(split.skipped[0]) == f"{path}:2: label field has 2 bits, expected 3"
    with pytest.raises(hedwig.DataError, match=r"x\.tsv:2: label field has 2 bits"):
        hedwig.read_split(path, 3)  # the default still stops at the first
    with pytest.raises(ValueError, match="on_bad_row"):
        hedwig.read_split(path, 3, on_bad_row="ignore")


def test_skipped_rows_stay_with_train_when_dev_is_carved():
    rows = [hedwig.BadRow("t.tsv", 3, "no tab", "t.tsv:3: no tab")]
    split = hedwig.Split([f"doc {i}" for i in range(50)], np.eye(2, dtype=np.int8)[np.arange(50) % 2], "t", rows)
    train, dev = hedwig.carve_dev(split)
    assert train.skipped == rows and dev.skipped == []


def test_labels_file_must_be_utf8(tmp_path):
    (tmp_path / "labels.txt").write_bytes(b"a\nb\xff\n")
    with pytest.raises(hedwig.DataError, match=r"labels\.txt:2: not valid UTF-8"):
        hedwig.read_labels_file(str(tmp_path / "labels.txt"))
