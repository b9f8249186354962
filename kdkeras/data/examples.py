"""Documents as `tf.train.Example` records in gzip TFRecord shards.

Every record has `text` (bytes), `labels` (int64 bits, one per class) and,
once a teacher has read it, `teacher_logits` (float, one per class). A
document without labels (unlabelled text for the transfer set) has all-zero
bits and `labeled` = 0; the feature is absent (read as 1) otherwise.
"""

import glob
import os
import re

import numpy as np
import tensorflow as tf

from kdkeras.data.hedwig import DataError, Split

TEXT, LABELS, TEACHER_LOGITS, LABELED = "text", "labels", "teacher_logits", "labeled"
SHARD_PATTERN = "data_tfrecord-*.gz"


def make_example(text, labels, teacher_logits=None, labeled=True):
    """Builds one `tf.train.Example` for a document (`labeled=False`: a document without labels)."""
    feature = {
        TEXT: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode("utf-8")])),
        LABELS: tf.train.Feature(int64_list=tf.train.Int64List(value=np.asarray(labels, np.int64))),
    }
    if not labeled:
        feature[LABELED] = tf.train.Feature(int64_list=tf.train.Int64List(value=[0]))
    if teacher_logits is not None:
        feature[TEACHER_LOGITS] = tf.train.Feature(
            float_list=tf.train.FloatList(value=np.asarray(teacher_logits, np.float32))
        )
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_split(directory, split, teacher_logits=None):
    """Writes a `Split` (and optional logits) as one gzip TFRecord shard in `directory`."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "data_tfrecord-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for i, (text, bits) in enumerate(zip(split.texts, split.labels)):
            logits = None if teacher_logits is None else teacher_logits[i]
            labeled = True if split.labeled is None else bool(split.labeled[i])
            writer.write(make_example(text, bits, logits, labeled).SerializeToString(deterministic=True))
    return path


def feature_spec(num_classes, with_logits=False):
    """Parsing spec for `tf.io.parse_example`."""
    spec = {
        TEXT: tf.io.FixedLenFeature([], tf.string),
        LABELS: tf.io.FixedLenFeature([num_classes], tf.int64),
        LABELED: tf.io.FixedLenFeature([], tf.int64, default_value=1),
    }
    if with_logits:
        spec[TEACHER_LOGITS] = tf.io.FixedLenFeature([num_classes], tf.float32)
    return spec


def shard_files(directory):
    files = sorted(glob.glob(os.path.join(directory, SHARD_PATTERN)))
    if not files:
        raise DataError(f"{directory}: no {SHARD_PATTERN} files")
    return files


def read_split(directory, num_classes, with_logits=False):
    """Reads the shards in `directory` back into memory.

    Returns:
        `(split, teacher_logits)`: a `Split` (with `labeled` set when some
        records have no labels) and a float32 array of logits (or None when
        `with_logits` is False).

    Raises:
        DataError: naming the shard file when one is truncated or corrupt,
            or holds records of another layout (e.g. another label width).
    """
    texts, labels, logits, labeled = [], [], [], []
    spec = feature_spec(num_classes, with_logits)
    for path in shard_files(directory):
        ds = tf.data.TFRecordDataset(path, compression_type="GZIP").batch(1024)
        ds = ds.map(lambda r: tf.io.parse_example(r, spec))
        try:
            for batch in ds.as_numpy_iterator():
                texts.extend(t.decode("utf-8") for t in batch[TEXT])
                labels.append(batch[LABELS].astype(np.int8))
                labeled.append(batch[LABELED] != 0)
                if with_logits:
                    logits.append(batch[TEACHER_LOGITS])
        except tf.errors.OpError as e:
            detail = _op_error_detail(e)
            if isinstance(e, tf.errors.InvalidArgumentError):  # readable records, but not these features
                raise DataError(f"{path}: records do not match the expected layout ({detail})") from None
            raise DataError(f"{path}: corrupt or truncated TFRecord shard ({detail})") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: record text is not valid UTF-8 ({e.reason})") from None
    if not labels:
        raise DataError(f"{directory}: the shards hold no records")
    labeled = np.concatenate(labeled)
    split = Split(texts, np.concatenate(labels), directory, labeled=None if labeled.all() else labeled)
    return split, (np.concatenate(logits) if with_logits else None)


def _op_error_detail(error):
    """The readable part of a TensorFlow op error, on one line (no function-node or op names)."""
    text = " ".join((error.message or type(error).__name__).split())
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)
    return text[:200] or type(error).__name__
