import os

from pipelines import imdb_polarity


def _write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{bits}\t{text}\n" for bits, text in rows)


def test_ratings_become_polarity(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    one_hot = lambda rating: "".join("1" if i == rating - 1 else "0" for i in range(10))  # noqa: E731
    for split in imdb_polarity.SPLITS:
        _write(src / f"{split}.tsv", [(one_hot(1), "awful"), (one_hot(4), "meh"), (one_hot(7), "good"),
                                      (one_hot(10), "great")])
    out = tmp_path / "out"
    counts = imdb_polarity.convert(str(src), str(out), max_docs=3)
    assert counts["train"] == {"neg": 2, "pos": 1}
    assert (out / "train.tsv").read_text() == "10\tawful\n10\tmeh\n01\tgood\n"
    assert (out / "labels.txt").read_text() == "neg\npos\n"
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


def test_bad_source_row_is_one_line_naming_file_and_line(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    _write(src / "train.tsv", [("0000001000", "good"), ("00100", "short label")])
    assert imdb_polarity.main(["--source", str(src), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "train.tsv:2" in err and len(err.strip().splitlines()) == 1
