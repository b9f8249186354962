import json

import numpy as np
import pytest

from kdkeras.data import hedwig, registry, yelp


def write_reviews(path, n=50):
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        for i in range(n):
            stars = int(rng.integers(1, 6))
            f.write(json.dumps({"review_id": str(i), "stars": stars, "text": f"review {i}\nwith {stars} stars"}) + "\n")


def test_reads_open_dataset_json_with_80_10_10_split(tmp_path):
    write_reviews(tmp_path / "yelp_academic_dataset_review.json", 50)
    splits, names = registry.load_dataset(registry.get_dataset("yelp"), str(tmp_path))
    assert {k: len(v) for k, v in splits.items()} == {"train": 40, "dev": 5, "test": 5}
    assert names[0] == "1 star" and len(names) == 5
    all_texts = [t for s in splits.values() for t in s.texts]
    assert len(set(all_texts)) == 50  # a partition
    for split in splits.values():
        for text, bits in zip(split.texts, split.labels):
            assert bits.sum() == 1 and f"with {bits.argmax() + 1} stars" in text
    again, _ = registry.load_dataset(registry.get_dataset("yelp"), str(tmp_path))
    assert again["test"].texts == splits["test"].texts  # fixed seed


def test_yelp_hedwig_layout_also_works(tmp_path):
    (tmp_path / "train.tsv").write_text("00100\tgood\n10000\tbad\n")
    (tmp_path / "test.tsv").write_text("00001\tgreat\n")
    splits, _ = registry.load_dataset(registry.get_dataset("yelp"), str(tmp_path))
    assert splits["test"].labels.tolist() == [[0, 0, 0, 0, 1]]


@pytest.mark.parametrize(
    "line, message",
    [('{"stars": 7, "text": "x"}', "'stars' must be an integer 1-5"),
     ('{"stars": 3, "text": ""}', "missing or empty 'text'"),
     ('{"stars": 3, "text": "x"', "not valid JSON")],
)
def test_bad_review_lines(tmp_path, line, message):
    path = tmp_path / "review.json"
    path.write_text('{"stars": 2, "text": "fine"}\n' + line + "\n")
    with pytest.raises(hedwig.DataError, match=r"review\.json:2: " + message.replace("(", r"\(")):
        yelp.read_reviews(str(path))


def test_skip_bad_review_lines(tmp_path):
    path = tmp_path / "yelp_academic_dataset_review.json"
    write_reviews(path, 30)
    with open(path, "ab") as f:
        f.write(b'{"stars": 9, "text": "x"}\n\n{"stars": 2, "text": "caf\xe9"}\n[1]\n')
    with pytest.raises(hedwig.DataError, match=r"review\.json:31: 'stars' must be an integer 1-5, got 9"):
        yelp.read_reviews(str(path))
    reviews = yelp.read_reviews(str(path), on_bad_row="skip")
    assert len(reviews) == 30 and [(r.line, r.reason) for r in reviews.skipped] == [
        (31, "stars"), (33, "not UTF-8"), (34, "not JSON")]
    splits, _ = registry.load_dataset(registry.get_dataset("yelp"), str(tmp_path), on_bad_row="skip")
    assert registry.bad_row_summary(splits)["splits"] == {"train": 3, "dev": 0, "test": 0}
