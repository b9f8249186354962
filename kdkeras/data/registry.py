"""Dataset registry: what each known dataset is and where its files live.

A dataset folder holds a split per file: `<split>.tsv[.gz]` in hedwig layout
(label bits, see `kdkeras.data.hedwig`) or `<split>.jsonl[.gz]` with label
names (see `kdkeras.data.jsonl`; needs `labels.txt`), for `train`, `test`
and optionally `dev`.
"""

import dataclasses
import os

from kdkeras.data import hedwig, jsonl, yelp

VENDORED_DIR = os.path.join(os.path.dirname(__file__), "vendored")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Static facts about a dataset.

    Args:
        name: registry name.
        multi_label: True for multi-label (sigmoid/BCE, micro-F1), False for
            single-label (softmax/CE, accuracy).
        num_classes: label width, or None when read from the data.
        vendored: True when the files ship inside this package.
        how_to_get: instructions shown when the files are missing.
    """

    name: str
    multi_label: bool
    num_classes: int = None
    vendored: bool = False
    how_to_get: str = ""

    @property
    def metric(self):
        return "micro_f1" if self.multi_label else "accuracy"


DATASETS = {
    "reuters": DatasetSpec(
        "reuters", multi_label=True, num_classes=90, vendored=True,
        how_to_get="Reuters-21578 ModApte (90 labels) ships with kdkeras.",
    ),
    "aapd": DatasetSpec(
        "aapd", multi_label=True, num_classes=54,
        how_to_get=(
            "AAPD (Yang et al., COLING 2018): get the SGM release (text_train, label_train, ...) "
            "and convert it to hedwig layout: train.tsv, dev.tsv, test.tsv with 54-bit label "
            "strings in the order of labels.txt; pass the folder with --data-dir."
        ),
    ),
    "imdb": DatasetSpec(
        "imdb", multi_label=False, num_classes=10,
        how_to_get=(
            "IMDB (Diao et al. 2014, 10 rating classes) in hedwig layout from the hedwig-data "
            "release (datasets/IMDB: train.tsv, dev.tsv, test.tsv); pass the folder with --data-dir."
        ),
    ),
    "yelp": DatasetSpec(
        "yelp", multi_label=False, num_classes=5,
        how_to_get=(
            "Yelp (5 star classes): either the hedwig-data release of Yelp 2014 (datasets/Yelp2014: "
            "train.tsv, dev.tsv, test.tsv in hedwig layout), or the Yelp Open Dataset "
            "(https://www.yelp.com/dataset, file yelp_academic_dataset_review.json: JSON lines with "
            "'stars' and 'text'; split 80/10/10 at random with a fixed seed). Put the files in a "
            "folder and pass it with --data-dir."
        ),
    ),
    "custom": DatasetSpec(
        "custom", multi_label=True,
        how_to_get=(
            "Your own data: train, test and optionally dev, each as <split>.tsv[.gz] in hedwig layout "
            "(LABELBITS<TAB>TEXT) or as <split>.jsonl[.gz] with label names "
            '({"text": ..., "labels": [...]} or {"text": ..., "label": ...}) and labels.txt; pass --data-dir.'
        ),
    ),
}


def get_dataset(name):
    """Returns the `DatasetSpec` for `name` or raises `ValueError` listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def resolve_data_dir(spec, data_dir=None):
    """Returns the directory holding `spec`'s files, or raises `DataError` saying how to get them."""
    if data_dir is None:
        if spec.vendored:
            return os.path.join(VENDORED_DIR, spec.name)
        raise hedwig.DataError(
            f"dataset {spec.name!r} is not shipped with kdkeras; pass --data-dir DIR. {spec.how_to_get}"
        )
    if not os.path.isdir(data_dir):
        raise hedwig.DataError(f"{data_dir}: data directory not found. {spec.how_to_get}")
    return data_dir


def find_split_file(data_dir, split):
    """The file of `split` in `data_dir`: `<split>.tsv[.gz]`, else `<split>.jsonl[.gz]`, else None."""
    return hedwig.find_split_file(data_dir, split) or jsonl.find_split_file(data_dir, split)


def load_dataset(spec, data_dir=None, dev_fraction=0.1, on_bad_row="raise"):
    """Reads train/dev/test of a dataset, carving dev from train when missing.

    Each split is `<split>.tsv[.gz]` (hedwig label bits) or, when there is
    none, `<split>.jsonl[.gz]` (label names, which `labels.txt` must list).

    Args:
        spec: a `DatasetSpec`.
        data_dir: folder of the split files; defaults to the vendored copy.
        dev_fraction: share of train used as dev when there is no dev file.
        on_bad_row: `"raise"` (default) stops at the first bad row with a
            `DataError` naming its file and line; `"skip"` leaves bad rows
            out and lists them in each split's `skipped` (see
            `bad_row_summary`).

    Returns:
        `(splits, label_names)`: a dict split name -> `Split`, and the list of
        class names (from `labels.txt`, else `class_0..class_{K-1}`).

    Example:
    >>> splits, names = load_dataset(get_dataset("reuters"))
    >>> len(names), len(splits["test"])
    (90, 3019)
    """
    hedwig.check_on_bad_row(on_bad_row)
    data_dir = resolve_data_dir(spec, data_dir)
    names = None
    labels_path = os.path.join(data_dir, "labels.txt")
    if os.path.isfile(labels_path):
        names = hedwig.read_labels_file(labels_path)
    num_classes = len(names) if names else spec.num_classes
    if names and spec.num_classes and len(names) != spec.num_classes:
        raise hedwig.DataError(f"{labels_path}: {len(names)} classes, {spec.name} has {spec.num_classes}")
    if spec.name == "yelp" and find_split_file(data_dir, "train") is None:
        review_file = yelp.find_review_file(data_dir)
        if review_file is not None:
            splits = yelp.split_reviews(yelp.read_reviews(review_file, on_bad_row=on_bad_row))
            return splits, [f"{i} star{'s' if i > 1 else ''}" for i in range(1, 6)]
    if find_split_file(data_dir, "train") is None:
        present = sorted(os.listdir(data_dir))
        if not present:
            raise hedwig.DataError(f"{data_dir}: data directory is empty. {spec.how_to_get}")
        raise hedwig.DataError(
            f"{data_dir}: no train.tsv[.gz] or train.jsonl[.gz] (found: {', '.join(present)}). {spec.how_to_get}"
        )
    splits = {}
    for split in hedwig.SPLITS:
        path = find_split_file(data_dir, split)
        if path is None:
            continue
        if path.endswith((".jsonl", ".jsonl.gz")):
            if names is None:
                raise hedwig.DataError(
                    f"{path}: JSON-lines splits name their labels, so {labels_path} (one class name per line, "
                    "in output order) is required"
                )
            splits[split] = jsonl.read_split(path, names, spec.multi_label, on_bad_row)
        else:
            if names:
                _check_labels_file(labels_path, names, path)
            splits[split] = hedwig.read_split(path, num_classes, spec.multi_label, on_bad_row)
        num_classes = splits[split].labels.shape[1]
    if "test" not in splits:
        raise hedwig.DataError(f"{data_dir}: no test.tsv[.gz] or test.jsonl[.gz]; the test split is required")
    if "dev" not in splits:
        splits["train"], splits["dev"] = hedwig.carve_dev(splits["train"], dev_fraction)
    if names is None:
        names = [f"class_{i}" for i in range(num_classes)]
    return splits, names


def _check_labels_file(labels_path, names, split_path):
    """Raises `DataError` naming labels.txt when its class count differs from the label bits of `split_path`."""
    first = hedwig.first_label_width(split_path)
    if first is not None and first[1] != len(names):
        line, width = first
        raise hedwig.DataError(f"{labels_path}: names {len(names)} classes, but {split_path}:{line} has {width} "
                               f"label bits; labels.txt needs one name per bit")


def bad_row_summary(splits, max_examples=10):
    """Counts of the rows `load_dataset(..., on_bad_row="skip")` left out.

    Args:
        splits: dict split name -> `Split`.
        max_examples: how many `file:line: reason` messages to keep.

    Returns:
        `{"total": n, "splits": {split: n}, "reasons": {reason: n},
        "by_split": {split: {reason: n}}, "examples": [message, ...]}`.
    """
    summary = {"total": 0, "splits": {}, "reasons": {}, "by_split": {}, "examples": []}
    for name, split in splits.items():
        summary["splits"][name] = len(split.skipped)
        reasons = summary["by_split"].setdefault(name, {})
        for row in split.skipped:
            summary["total"] += 1
            reasons[row.reason] = reasons.get(row.reason, 0) + 1
            summary["reasons"][row.reason] = summary["reasons"].get(row.reason, 0) + 1
            if len(summary["examples"]) < max_examples:
                summary["examples"].append(row.message)
    return summary
