"""Yelp Open Dataset reviews (JSON lines) as a 5-class single-label dataset."""

import glob
import json
import os

import numpy as np

from kdkeras.data.hedwig import BadRowError, DataError, Split, check_on_bad_row

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
    import gzip

    check_on_bad_row(on_bad_row)
    opener = gzip.open if path.endswith(".gz") else open
    texts, stars, skipped = [], [], []
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if max_reviews and len(texts) >= max_reviews:
                    break
                try:
                    review = _parse_review(path, lineno, raw)
                except BadRowError as e:
                    if on_bad_row == "raise":
                        raise
                    skipped.append(e.row)
                    continue
                if review is not None:
                    texts.append(review[0])
                    stars.append(review[1])
    except (OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise DataError(f"{path}: file not found") from None
        raise DataError(f"{path}: cannot read ({e})") from None
    if not texts:
        raise DataError(f"{path}: no reviews" + (f" ({len(skipped)} bad rows skipped)" if skipped else ""))
    labels = np.zeros((len(texts), NUM_CLASSES), np.int8)
    labels[np.arange(len(texts)), np.asarray(stars) - 1] = 1
    return Split(texts, labels, path, skipped)


def _parse_review(path, lineno, raw):
    """`(text, stars)` of one line, None for a blank line, or raises `BadRowError`."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRowError(path, lineno, "not UTF-8", f"not valid UTF-8 ({e.reason} at byte {e.start})") from None
    if not line.strip():
        return None
    try:
        review = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadRowError(path, lineno, "not JSON", f"not valid JSON ({e.msg})") from None
    if not isinstance(review, dict):
        raise BadRowError(path, lineno, "not JSON", f"expected a JSON object, got {type(review).__name__}")
    rating, text = review.get("stars"), review.get("text")
    is_number = isinstance(rating, (int, float)) and not isinstance(rating, bool)
    if not is_number or int(rating) != rating or not 1 <= rating <= 5:
        raise BadRowError(path, lineno, "stars", f"'stars' must be an integer 1-5, got {rating!r}")
    if not isinstance(text, str) or not text.strip():
        raise BadRowError(path, lineno, "empty text", "missing or empty 'text'")
    return " ".join(text.split()), int(rating)


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
