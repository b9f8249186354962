import json

import numpy as np
import pytest

from kdkeras.data import hedwig, jsonl, registry
from tests.helpers import write_file

NAMES = ["earn", "grain", "trade"]


def write(path, lines, gz=False):
    data = b"".join(
        (x if isinstance(x, bytes) else (x if isinstance(x, str) else json.dumps(x)).encode("utf-8")) + b"\n"
        for x in lines
    )
    return write_file(path, data, gz)


def test_reads_label_names_in_labels_file_order(tmp_path):
    rows = [{"text": "wheat exports", "labels": ["grain", "trade"]}, {"text": "profit  up\n", "labels": ["earn"]},
            "", {"text": "no topic", "labels": []}, {"text": "one name", "label": "trade", "id": 7}]
    for gz in (False, True):
        split = jsonl.read_split(write(tmp_path / ("x.jsonl.gz" if gz else "x.jsonl"), rows, gz), NAMES)
        assert split.texts == ["wheat exports", "profit up", "no topic", "one name"]
        np.testing.assert_array_equal(split.labels, [[0, 1, 1], [1, 0, 0], [0, 0, 0], [0, 0, 1]])
        assert split.labels.dtype == np.int8 and split.skipped == []


def test_single_label(tmp_path):
    path = write(tmp_path / "x.jsonl", [{"text": "great", "label": "pos"}, {"text": "bad", "labels": ["neg"]}])
    split = jsonl.read_split(path, ["neg", "pos"], multi_label=False)
    assert split.class_ids().tolist() == [1, 0]
    two = write(tmp_path / "y.jsonl", [{"text": "both", "labels": ["neg", "pos"]}])
    with pytest.raises(hedwig.DataError, match=r"y\.jsonl:1: single-label data needs exactly one label, found 2"):
        jsonl.read_split(two, ["neg", "pos"], multi_label=False)


@pytest.mark.parametrize(
    "line, message",
    [
        ({"text": "x", "labels": ["grain", "xyz"]}, "label 'xyz' not in labels.txt (earn, grain, trade)"),
        ({"text": "x", "label": "xyz"}, "label 'xyz' not in labels.txt"),
        ({"text": "", "labels": ["earn"]}, "missing or empty 'text'"),
        ({"labels": ["earn"]}, "missing or empty 'text'"),
        ({"text": "x"}, "no 'labels' (list of names) or 'label' (one name)"),
        ({"text": "x", "labels": "earn"}, "'labels' must be a list of label names"),
        ({"text": "x", "labels": [1]}, "label 1 is not a label name"),
        ('{"text": "x", "labels": ["earn"]', "not valid JSON"),
        ('["x", "earn"]', "expected a JSON object, got list"),
        (b'{"text": "caf\xe9", "labels": ["earn"]}', "not valid UTF-8"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "x.jsonl", [{"text": "fine", "labels": ["earn"]}, line])
    with pytest.raises(hedwig.DataError) as error:
        jsonl.read_split(path, NAMES)
    assert str(error.value).startswith(f"{path}:2: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_long_label_lists_are_shortened_in_the_message(tmp_path):
    names = [f"label{i}" for i in range(40)]
    path = write(tmp_path / "x.jsonl", [{"text": "x", "label": "nope"}])
    message = r"label 'nope' not in labels\.txt \(label0, .*label9, … \(40 in all\)\)"
    with pytest.raises(hedwig.DataError, match=message):
        jsonl.read_split(path, names)


def test_skip_bad_rows_counts_them(tmp_path):
    path = write(tmp_path / "x.jsonl", [{"text": "a", "labels": ["earn"]}, {"text": "b", "labels": ["zzz"]},
                                        "{oops", {"text": "c", "label": "trade"}])
    split = jsonl.read_split(path, NAMES, on_bad_row="skip")
    assert split.texts == ["a", "c"]
    assert [(r.line, r.reason) for r in split.skipped] == [(2, "unknown label"), (3, "not JSON")]
    assert split.skipped[0].message.startswith(f"{path}:2: label 'zzz'")
    with pytest.raises(hedwig.DataError, match=r"no documents \(1 bad rows skipped\)"):
        jsonl.read_split(write(tmp_path / "y.jsonl", ["{oops"]), NAMES, on_bad_row="skip")


def test_registry_reads_jsonl_splits_and_requires_labels_file(tmp_path):
    for split, n in (("train", 30), ("test", 6)):
        write(tmp_path / f"{split}.jsonl",
              [{"text": f"{split} doc {i}", "labels": [NAMES[i % 3]]} for i in range(n)])
    with pytest.raises(hedwig.DataError, match=r"train\.jsonl: JSON-lines splits name their labels, so .*labels\.txt"):
        registry.load_dataset(registry.get_dataset("custom"), str(tmp_path))
    (tmp_path / "labels.txt").write_text("\n".join(NAMES) + "\n")
    splits, names = registry.load_dataset(registry.get_dataset("custom"), str(tmp_path))
    assert names == NAMES and set(splits) == {"train", "dev", "test"}
    assert len(splits["train"]) + len(splits["dev"]) == 30 and len(splits["test"]) == 6
    assert splits["test"].labels.sum(axis=1).tolist() == [1] * 6


def test_tsv_wins_over_jsonl(tmp_path):
    (tmp_path / "labels.txt").write_text("\n".join(NAMES) + "\n")
    (tmp_path / "train.tsv").write_text("100\tfrom the tsv\n010\tanother\n001\tthird\n")
    write(tmp_path / "train.jsonl", [{"text": "from the jsonl", "labels": ["earn"]}])
    write(tmp_path / "test.jsonl", [{"text": "test doc", "labels": ["earn"]}])
    splits, _ = registry.load_dataset(registry.get_dataset("custom"), str(tmp_path))
    assert "from the tsv" in splits["train"].texts + splits["dev"].texts
    assert splits["test"].texts == ["test doc"]
