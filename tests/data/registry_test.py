import os

import pytest

from kdkeras.data import hedwig, registry
from tests.helpers import SHARED_DATA, make_docs, write_hedwig


def test_vendored_reuters_modapte():
    splits, names = registry.load_dataset(registry.get_dataset("reuters"))
    assert len(names) == 90 and names[0] == "acq"
    assert {k: len(v) for k, v in splits.items()} == {"train": 5797, "dev": 1973, "test": 3019}
    assert splits["train"].labels.shape == (5797, 90)
    assert (splits["test"].labels.sum(axis=1) >= 1).all()


def test_registry_knows_paper_datasets():
    assert set(registry.DATASETS) >= {"reuters", "aapd", "imdb", "yelp", "custom"}
    assert registry.get_dataset("reuters").metric == "micro_f1"
    assert registry.get_dataset("imdb").metric == "accuracy"
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        registry.get_dataset("nope")


def test_unshipped_dataset_without_dir_says_how_to_get_it():
    with pytest.raises(hedwig.DataError, match="--data-dir"):
        registry.load_dataset(registry.get_dataset("yelp"))


def test_missing_dev_is_carved(tmp_path):
    d = write_hedwig(str(tmp_path / "d"), {"train": make_docs(200), "test": make_docs(20, 1)}, gz=True)
    splits, names = registry.load_dataset(registry.get_dataset("custom"), d)
    assert names == ["grain", "oil", "money"]
    assert len(splits["train"]) + len(splits["dev"]) == 200 and len(splits["dev"]) > 0


def test_missing_train_and_test(tmp_path):
    d = write_hedwig(str(tmp_path / "d"), {"dev": make_docs(5)})
    with pytest.raises(hedwig.DataError, match="no train.tsv"):
        registry.load_dataset(registry.get_dataset("custom"), d)
    write_hedwig(d, {"train": make_docs(5)})
    with pytest.raises(hedwig.DataError, match="no test.tsv"):
        registry.load_dataset(registry.get_dataset("custom"), d)


def test_label_width_must_match_labels_file(tmp_path):
    # labels.txt is what disagrees with the data: the error names it, its class count and the bits found.
    d = write_hedwig(str(tmp_path / "d"), {"train": [("1010", "four bits")], "test": make_docs(3)})
    with pytest.raises(hedwig.DataError, match=r"labels\.txt: names 3 classes, but .*train\.tsv:1 has 4 label bits"):
        registry.load_dataset(registry.get_dataset("custom"), d)
    with open(os.path.join(d, "labels.txt"), "w") as f:
        f.write("a\nb\n")
    write_hedwig(d, {"train": make_docs(5), "test": make_docs(3)}, labels=False)
    with pytest.raises(hedwig.DataError, match=r"labels\.txt: names 2 classes, but .*train\.tsv:1 has 3 label bits"):
        registry.load_dataset(registry.get_dataset("custom"), d)


def test_files_saved_with_a_byte_order_mark_and_crlf_read_as_usual(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    bom = b"\xef\xbb\xbf"
    (d / "labels.txt").write_bytes(bom + b"grain\r\noil\r\nmoney\r\n")
    rows = make_docs(12)
    (d / "train.tsv").write_bytes(bom + "".join(f"{b}\t{t}\r\n" for b, t in rows).encode())
    (d / "dev.tsv").write_bytes(bom + b"010\toil wheat\r\n")
    (d / "test.jsonl").write_bytes(bom + b'{"text": "oil wheat", "labels": ["oil"]}\r\n')
    splits, names = registry.load_dataset(registry.get_dataset("custom"), str(d))
    assert names == ["grain", "oil", "money"] and splits["train"].texts[0] == rows[0][1]
    assert splits["train"].labels[0].tolist() == [int(b) for b in rows[0][0]]
    assert splits["test"].labels.tolist() == [[0, 1, 0]]


_IMDB_STANDIN = os.path.join(SHARED_DATA, "imdb_acl_ratings")


@pytest.mark.skipif(not os.path.isdir(_IMDB_STANDIN), reason="../shared/data not present")
def test_shared_imdb_standin_reads_as_single_label():
    d = _IMDB_STANDIN
    split = hedwig.read_split(os.path.join(d, "dev.tsv.gz"), 10, multi_label=False)
    assert len(split) == 2462 and (split.labels.sum(axis=1) == 1).all()


def test_empty_data_directory(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(hedwig.DataError, match=r"d: data directory is empty\. Your own data"):
        registry.load_dataset(registry.get_dataset("custom"), str(tmp_path / "d"))


def test_skip_bad_rows_summary(tmp_path):
    train, dev = make_docs(40), make_docs(10, 1)
    train[3] = ("1010", train[3][1])
    train[5] = ("101", "")
    dev[0] = ("010", "")
    d = write_hedwig(str(tmp_path / "d"), {"train": train, "dev": dev, "test": make_docs(5, 2)})
    with pytest.raises(hedwig.DataError, match=r"train\.tsv:4: label field has 4 bits"):
        registry.load_dataset(registry.get_dataset("custom"), d)
    splits, _ = registry.load_dataset(registry.get_dataset("custom"), d, on_bad_row="skip")
    assert (len(splits["train"]), len(splits["dev"]), len(splits["test"])) == (38, 9, 5)
    summary = registry.bad_row_summary(splits, max_examples=2)
    assert summary["total"] == 3 and summary["splits"] == {"train": 2, "dev": 1, "test": 0}
    assert summary["reasons"] == {"label width": 1, "empty text": 2}
    assert summary["by_split"]["train"] == {"label width": 1, "empty text": 1}
    assert len(summary["examples"]) == 2 and summary["examples"][0].endswith("train.tsv:4: label field has 4 bits, expected 3")
