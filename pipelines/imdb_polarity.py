"""The IMDB stand-in read as polarity: `python -m pipelines.imdb_polarity --source DIR --output DIR`.

Reads the aclImdb star-rating set in hedwig layout (one bit per rating
1..10, `../shared/data/imdb_acl_ratings` beside a checkout) and writes a
two-class single-label dataset in hedwig layout: `neg` for ratings ≤ 4,
`pos` for ratings ≥ 7 (Maas et al.'s polarity labels; ratings 5 and 6 do
not occur in that set). Train, dev and test keep their documents and order;
`--max-docs N` keeps the first N of each split. Run it with
`python -m pipelines.run --dataset custom --data-dir OUTPUT --task single_label`.
"""

import os
import sys

from pipelines import cli

SPLITS = ("train", "dev", "test")
LABELS = ("neg", "pos")


def polarity_bits(rating_bits):
    """`"10"` (neg) or `"01"` (pos) for a 10-bit one-hot rating (bit i = rating i + 1)."""
    rating = rating_bits.index("1") + 1
    if rating in (5, 6):
        raise ValueError(f"rating {rating} has no polarity")
    return "01" if rating >= 7 else "10"


def convert(source, output, max_docs=None):
    """Writes `<output>/{train,dev,test}.tsv` and `labels.txt`; returns the rows per split and class.

    Every source row is validated by the hedwig reader (errors name the
    file and line); the files are written under temporary names and renamed
    into place, so an interrupted run leaves no partial split.
    """
    from kdkeras.data.hedwig import read_split

    os.makedirs(output, exist_ok=True)
    counts = {}
    for split in SPLITS:
        path = next((os.path.join(source, f"{split}{ext}") for ext in (".tsv.gz", ".tsv")
                     if os.path.exists(os.path.join(source, f"{split}{ext}"))), None)
        if path is None:
            raise FileNotFoundError(f"{source}: no {split}.tsv[.gz]")
        data = read_split(path, num_classes=10, multi_label=False)
        n = len(data.texts) if max_docs is None else min(max_docs, len(data.texts))
        rows = [(polarity_bits("".join(map(str, data.labels[i]))), data.texts[i]) for i in range(n)]
        tmp = os.path.join(output, f".{split}.tsv.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(f"{bits}\t{text}\n" for bits, text in rows)
        os.replace(tmp, os.path.join(output, f"{split}.tsv"))
        counts[split] = {name: sum(bits == b for bits, _ in rows) for name, b in zip(LABELS, ("10", "01"))}
    with open(os.path.join(output, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(LABELS) + "\n")
    return counts


def main(argv=None):
    p = cli.ArgumentParser(prog="python -m pipelines.imdb_polarity", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True, help="the aclImdb star-rating set in hedwig layout")
    p.add_argument("--output", required=True, help="folder for the polarity dataset")
    p.add_argument("--max-docs", type=int, help="keep the first N documents of each split")
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)
    from kdkeras.data.hedwig import DataError

    try:
        counts = convert(args.source, args.output, args.max_docs)
    except (DataError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for split, row in counts.items():
        print(f"{split}: " + ", ".join(f"{name} {n}" for name, n in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
