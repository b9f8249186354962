"""Yelp Open Dataset reviews (JSON lines) as a 5-class single-label dataset."""

import glob
import json
import os

import numpy as np

from kdkeras.data.hedwig import DataError, Split

NUM_CLASSES = 5
PATTERNS = ("*review*.json", "*review*.jsonl", "*review*.json.gz", "*review*.jsonl.gz")


def find_review_file(data_dir):
    """The review JSON-lines file in `data_dir` (e.g. `yelp_academic_dataset_review.json`), or None."""
    for pattern in PATTERNS:
        found = sorted(glob.glob(os.path.join(data_dir, pattern)))
        if found:
            return found[0]
    return None


def read_reviews(path, max_reviews=None):
    """Reads `stars` (1–5) and `text` from each JSON line.

    Returns:
        A `Split` with one-hot labels (bit i = i+1 stars). A bad line stops
        the read with a `DataError` naming the file and line.
    """
    import gzip

    opener = gzip.open if path.endswith(".gz") else open
    texts, stars = [], []
    with opener(path, "rt", encoding="utf-8", errors="strict") as f:
        try:
            for lineno, line in enumerate(f, 1):
                if max_reviews and len(texts) >= max_reviews:
                    break
                if not line.strip():
                    continue
                try:
                    review = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
                rating, text = review.get("stars"), review.get("text")
                if not isinstance(rating, (int, float)) or int(rating) != rating or not 1 <= rating <= 5:
                    raise DataError(f"{path}:{lineno}: 'stars' must be an integer 1-5, got {rating!r}")
                if not isinstance(text, str) or not text.strip():
                    raise DataError(f"{path}:{lineno}: missing or empty 'text'")
                texts.append(" ".join(text.split()))
                stars.append(int(rating))
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not valid UTF-8 ({e.reason})") from None
    if not texts:
        raise DataError(f"{path}: no reviews")
    labels = np.zeros((len(texts), NUM_CLASSES), np.int8)
    labels[np.arange(len(texts)), np.asarray(stars) - 1] = 1
    return Split(texts, labels, path)


def split_reviews(reviews, seed=0, fractions=(0.8, 0.1, 0.1)):
    """The paper's random 80/10/10 train/dev/test split under a fixed seed."""
    order = np.random.default_rng(seed).permutation(len(reviews))
    n_train = int(round(fractions[0] * len(order)))
    n_dev = int(round(fractions[1] * len(order)))
    parts = {"train": order[:n_train], "dev": order[n_train : n_train + n_dev], "test": order[n_train + n_dev :]}
    return {
        name: Split([reviews.texts[i] for i in idx], reviews.labels[idx], f"{reviews.source} ({name})")
        for name, idx in parts.items()
    }
