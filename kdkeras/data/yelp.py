"""Yelp Open Dataset reviews (JSON lines) as a 5-class single-label dataset."""

import glob
import os

import numpy as np

from kdkeras.data import hedwig, jsonl
from kdkeras.data.hedwig import BadRowError, Split

NUM_CLASSES = 5
PATTERNS = ("*review*.json", "*review*.jsonl", "*review*.json.gz", "*review*.jsonl.gz")


def find_review_file(data_dir):
    """The review JSON-lines file in `data_dir` (e.g. `yelp_academic_dataset_review.json`), or None."""
    for pattern in PATTERNS:
        found = sorted(glob.glob(os.path.join(data_dir, pattern)))
        if found:
            return found[0]
    return None


def read_reviews(path, max_reviews=None, on_bad_row="raise"):
    """Reads `stars` (1–5) and `text` from each JSON line.

    Args:
        path: the review file (`.json`, `.jsonl`, optionally gzipped).
        max_reviews: stop after this many good reviews.
        on_bad_row: `"raise"` (default): a bad line stops the read with a
            `DataError` naming the file and line; `"skip"`: bad lines are
            left out and listed in `Split.skipped`.

    Returns:
        A `Split` with one-hot labels (bit i = i+1 stars).
    """
    rows, skipped = hedwig.read_rows(path, lambda lineno, raw: _parse_review(path, lineno, raw), on_bad_row,
                                     what="reviews", limit=max_reviews)
    labels = np.zeros((len(rows), NUM_CLASSES), np.int8)
    labels[np.arange(len(rows)), np.asarray([stars for _, stars in rows]) - 1] = 1
    return Split([text for text, _ in rows], labels, path, skipped)


def _parse_review(path, lineno, raw):
    """`(text, stars)` of one line, None for a blank line, or raises `BadRowError`."""
    review = jsonl.parse_object(path, lineno, raw)
    if review is None:
        return None
    rating = review.get("stars")
    is_number = isinstance(rating, (int, float)) and not isinstance(rating, bool)
    if not is_number or int(rating) != rating or not 1 <= rating <= 5:
        raise BadRowError(path, lineno, "stars", f"'stars' must be an integer 1-5, got {rating!r}")
    return jsonl.text_field(path, lineno, review), int(rating)


def split_reviews(reviews, seed=0, fractions=(0.8, 0.1, 0.1)):
    """The paper's random 80/10/10 train/dev/test split under a fixed seed."""
    order = np.random.default_rng(seed).permutation(len(reviews))
    n_train = int(round(fractions[0] * len(order)))
    n_dev = int(round(fractions[1] * len(order)))
    parts = {"train": order[:n_train], "dev": order[n_train : n_train + n_dev], "test": order[n_train + n_dev :]}
    splits = {
        name: Split([reviews.texts[i] for i in idx], reviews.labels[idx], f"{reviews.source} ({name})")
        for name, idx in parts.items()
    }
    splits["train"].skipped = list(reviews.skipped)  # bad lines of the one review file are counted once, on train
    return splits
