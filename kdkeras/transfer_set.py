"""The transfer set as an Apache Beam pipeline.

train documents → POS tags (once per document) → the original plus augmented
copies (`kdkeras.augment`) → duplicates dropped → teacher logits
(`RunInference`, batched; originals read with logits, from TeacherInference,
keep theirs) → `tf.train.Example` → sharded gzip TFRecords. The tags come
from `kdkeras.pos.FastTagger` by default: it learns spaCy's tags once, from a
sample of the documents chosen by text hash, and reaches the workers as a
side input (`TagDocuments`; `pos_tagger="spacy"` runs spaCy on every document).

Each record holds `text`, `labels` (the source document's), `teacher_logits`,
`source_id` (a hash of the source document's text, so ids do not depend on
file order or sharding) and `augmentations` (the rules that changed it; empty
for the original). Unlabelled documents (records read with `labeled` = 0)
join without augmentation and keep `labeled` = 0: students learn from
their teacher logits only. The same graph runs on the DirectRunner and, unchanged,
on Dataflow; see `pipelines/transfer_set.py` for the command line.

Example:
>>> import apache_beam as beam
>>> with beam.Pipeline() as p:
...     _ = (p | ReadExamples("run/ExampleGen/Split-train/data_tfrecord-*.gz", num_classes=90)
...            | TransferSet(TeacherModelHandler("teacher.keras", "preprocessor"), multiplier=3)
...            | WriteExamples("out/Split-train/data_tfrecord"))
"""

import collections
import hashlib
import logging

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from kdkeras import augment

NAMESPACE = "kdkeras.transfer_set"
_log = logging.getLogger(NAMESPACE)
SOURCE_ID, AUGMENTATIONS, TEACHER_LOGITS, LABELED = "source_id", "augmentations", "teacher_logits", "labeled"
COUNTERS = ("documents_read", "documents_tagged", "copies_made", "duplicates_dropped", "logits_computed",
            "logits_reused", "teacher_word_pieces", "teacher_slots")
_LOG_EVERY = 1000
BUCKET_ROWS = 16  # rows of every teacher batch in a length bucket (see TeacherModelHandler)
WINDOW_ROWS = 64  # documents in every batch of a windowed teacher (see TeacherModelHandler)
POS_TAGGERS = ("fast", "spacy")  # TagDocuments' choices


def document_id(text):
    """A stable id for a document: the first 16 hex digits of its sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class _Progress:
    """A Beam counter that also logs every `_LOG_EVERY` increments per worker."""

    def __init__(self, name):
        self.name = name
        self.counter = beam.metrics.Metrics.counter(NAMESPACE, name)
        self.seen = 0

    def inc(self, n=1):
        self.counter.inc(n)
        before, self.seen = self.seen, self.seen + n
        if before // _LOG_EVERY != self.seen // _LOG_EVERY:
            _log.info("transfer set: %s %d (this worker)", self.name, self.seen)


class _ParseExample(beam.DoFn):
    def __init__(self, num_classes):
        self.num_classes = num_classes

    def setup(self):
        self.read = _Progress("documents_read")

    def process(self, record):
        import tensorflow as tf

        features = tf.train.Example.FromString(record).features.feature
        text = features["text"].bytes_list.value[0].decode("utf-8")
        labels = list(features["labels"].int64_list.value)
        if len(labels) != self.num_classes:
            raise ValueError(f"record with {len(labels)} labels, expected {self.num_classes}: {text[:60]!r}")
        self.read.inc()
        labeled = LABELED not in features or bool(features[LABELED].int64_list.value[0])
        doc = {"source_id": document_id(text), "text": text, "labels": labels, LABELED: labeled}
        logits = list(features[TEACHER_LOGITS].float_list.value) if TEACHER_LOGITS in features else []
        if len(logits) == self.num_classes:  # a TeacherInference record: the original needs no second pass
            doc[TEACHER_LOGITS] = logits
        yield doc


class ReadExamples(beam.PTransform):
    """Reads ExampleGen-style gzip TFRecords into `{"source_id", "text", "labels"}` dicts.

    Records that already carry teacher logits (TeacherInference's) keep
    them as `"teacher_logits"`; the transfer set then reuses them for the
    originals instead of running the teacher again.

    Args:
        file_pattern: e.g. `RUN/ExampleGen/Split-train/data_tfrecord-*.gz` (local or gs://).
        num_classes: label bits per record.
    """

    def __init__(self, file_pattern, num_classes):
        super().__init__()
        self.file_pattern = file_pattern
        self.num_classes = num_classes

    def expand(self, pbegin):
        return (
            pbegin
            | "ReadTFRecord" >> beam.io.ReadFromTFRecord(
                self.file_pattern, compression_type=beam.io.filesystem.CompressionTypes.GZIP)
            | "Parse" >> beam.ParDo(_ParseExample(self.num_classes))
            # A few big shards would keep all work in one bundle: spread documents over the workers.
            | "Spread" >> beam.Reshuffle()
        )


class _Tag(beam.DoFn):
    """Tags batches of documents with the side input's `FastTagger`, or spaCy's `augment.Tagger` without one."""

    def setup(self):
        self.exact = None
        self.tagged = _Progress("documents_tagged")

    def process(self, batch, tagger=None):
        if tagger is None:
            if self.exact is None:
                self.exact = augment.Tagger()
            tagger = self.exact
        for doc, tagged in zip(batch, tagger.tag([d["text"] for d in batch])):
            self.tagged.inc()
            yield {**doc, "tagged": tagged}


def _build_tagger(sample, sample_size):
    """The `FastTagger` of the sampled texts (None when they hold no token: spaCy tags then)."""
    import time

    from kdkeras import pos

    if not any(text.split() for text in sample):  # no documents, or only blank ones
        return None
    started = time.time()
    tagger = pos.FastTagger.build(sample, sample_size=sample_size)
    _log.info("transfer set: fast POS tagger built from %d documents in %.1f s", len(sample), time.time() - started)
    return tagger


def _check_pos_tagger(name):
    if name not in POS_TAGGERS:
        raise ValueError(f"pos_tagger must be one of {POS_TAGGERS}, got {name!r}")


class TagDocuments(beam.PTransform):
    """Adds `"tagged"` (sentences of `(text, whitespace, pos)`) to document dicts.

    Args:
        pos_tagger: `"fast"` (default): a `kdkeras.pos.FastTagger` learns
            spaCy's tags once, on one worker, from `sample_size` documents
            chosen by text hash (`kdkeras.pos.choose_sample`: the same
            whatever the order, sharding or number of workers) and reaches
            every worker as a side input; `"spacy"`: spaCy's model on every
            document (`augment.Tagger`: exact, and over ten times slower).
        sample_size: documents the fast tagger learns from.
        batch_size: documents per tagging batch.

    Example:
    >>> tagged = docs | TagDocuments(pos_tagger="fast", sample_size=1000)
    """

    def __init__(self, *, pos_tagger="fast", sample_size=1000, batch_size=64):
        super().__init__()
        _check_pos_tagger(pos_tagger)
        self.pos_tagger = pos_tagger
        self.sample_size = sample_size
        self.batch_size = batch_size

    def expand(self, docs):
        from kdkeras import pos

        batches = docs | "BatchForTagger" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.batch_size)
        if self.pos_tagger == "spacy":
            return batches | "Tag" >> beam.ParDo(_Tag())
        tagger = (
            docs
            | "Texts" >> beam.Map(lambda d: d["text"])
            | "TaggerSample" >> beam.combiners.Top.Smallest(self.sample_size, key=pos.sample_key)
            | "BuildTagger" >> beam.Map(_build_tagger, self.sample_size)
        )
        return batches | "Tag" >> beam.ParDo(_Tag(), beam.pvalue.AsSingleton(tagger))


class _CountWords(beam.CombineFn):
    """Merges per-document `{pos: Counter}` into the corpus's counts."""

    def create_accumulator(self):
        return collections.defaultdict(collections.Counter)

    def add_input(self, acc, doc):
        for pos, words in augment.PosSampler.count([doc["tagged"]]).items():
            acc[pos].update(words)
        return acc

    def merge_accumulators(self, accs):
        merged = self.create_accumulator()
        for acc in accs:
            for pos, words in acc.items():
                merged[pos].update(words)
        return merged

    def extract_output(self, acc):
        return {pos: dict(words) for pos, words in acc.items()}


class _Augment(beam.DoFn):
    def __init__(self, n_copies, config):
        self.n_copies = n_copies
        self.config = config
        self._sampler_key = None

    def setup(self):
        self.made = _Progress("copies_made")

    def process(self, doc, counts):
        if self._sampler_key != id(counts):  # one sampler per side-input value (ints: compare by value)
            self.sampler, self._sampler_key = augment.PosSampler(counts), id(counts)
        base = {"source_id": doc["source_id"], "labels": doc["labels"], LABELED: True}
        known = {TEACHER_LOGITS: doc[TEACHER_LOGITS]} if TEACHER_LOGITS in doc else {}
        yield {**base, **known, "copy": 0, "text": doc["text"], "augmentations": []}
        if self.n_copies <= 0:
            return
        copies = augment.augment_document(doc["source_id"], doc["tagged"], self.n_copies, self.sampler, self.config)
        self.made.inc(len(copies))
        for c in copies:
            yield {**base, "copy": c.index, "text": c.text, "augmentations": list(c.rules)}


class _KeepFirst(beam.DoFn):
    """Of records with one text, keeps originals first, labelled ones first, then the lowest (source id, copy)."""

    def setup(self):
        self.dropped = _Progress("duplicates_dropped")

    def process(self, item):
        _, records = item
        records = list(records)
        if len(records) > 1:
            self.dropped.inc(len(records) - 1)
        yield min(records, key=lambda r: (r["copy"] > 0, not r[LABELED], r["source_id"], r["copy"]))


class DropDuplicates(beam.PTransform):
    """Drops records whose text another record already has (deterministically)."""

    def expand(self, records):
        return (
            records
            | "KeyByText" >> beam.Map(lambda r: (r["text"], r))
            | "GroupByText" >> beam.GroupByKey()
            | "KeepFirst" >> beam.ParDo(_KeepFirst())
        )


class _Teacher:
    """The loaded teacher and its preprocessor (Beam's model cache needs a weak-referenceable object)."""

    def __init__(self, model, preprocessor):
        self.model = model
        self.preprocessor = preprocessor


class TeacherModelHandler(ModelHandler):
    """RunInference handler: a Keras teacher (`.keras`) and its BERT preprocessor on raw text.

    Beam's TensorFlow handlers need tensorflow_hub and take tensors; this one
    takes the pipeline's records and returns one logits vector per record.
    Paths may be local or gs:// (read through TensorFlow's file system).

    Args:
        model_path: the teacher's `.keras` file.
        preprocessor_dir: folder written by `kdkeras.models.backbones.save_preprocessor`.
        batch_size: documents per RunInference batch. A document's logits
            must not depend on how the runner happened to batch it
            (multi-process runners batch differently each run), and CPU
            kernels round differently for other batch shapes: so each
            document runs in a batch of fixed shape, `[BUCKET_ROWS, its
            length bucket]` (`kdkeras.buckets`; rows padded by repetition),
            or `[WINDOW_ROWS, ...]` for a windowed teacher. A RunInference
            batch is split by length bucket, and every bucket's last teacher
            batch is padded: the more documents per RunInference batch, the
            fewer padded rows (Reuters' transfer set at 64 word pieces: 49 %
            more word-piece slots than its documents hold at 64 documents
            per batch, 8 % at 512). The counters
            `teacher_word_pieces` and `teacher_slots` measure it.
        jit_compile: run the teacher through XLA (one compilation per batch
            shape; the same logits up to float rounding, in less time).
        sequence_length: word pieces the teacher reads per document, when
            more than it was trained on (see `kdkeras.windows.load`).
    """

    def __init__(self, model_path, preprocessor_dir, batch_size=512, jit_compile=True, sequence_length=None):
        self.model_path = model_path
        self.preprocessor_dir = preprocessor_dir
        self.sequence_length = sequence_length
        self.batch_size = batch_size
        self.jit_compile = jit_compile

    def load_model(self):
        from kdkeras import models, windows

        import tensorflow as tf

        model = models.load_model(self.model_path, jit_compile=self.jit_compile)  # safe_mode: no stored code runs
        model, transform = windows.load(model, self.preprocessor_dir, self.sequence_length)
        # Built here, once: the runner shares the model between threads, and a KerasHub preprocessor builds
        # itself on its first call (two threads calling it first at once make Keras refuse the second build).
        getattr(transform, "preprocessor", transform)(tf.constant(["warm-up"]))
        return _Teacher(model, transform)

    def run_inference(self, batch, model, inference_args=None):
        import tensorflow as tf

        from kdkeras import buckets

        texts = [r["text"] for r in batch]
        logits = [None] * len(texts)
        if not buckets.supports(model.preprocessor):  # windows: blocks of WINDOW_ROWS documents
            for start in range(0, len(texts), WINDOW_ROWS):
                block = texts[start:start + WINDOW_ROWS]
                n = len(block)
                block += block[-1:] * (WINDOW_ROWS - n)  # one batch shape: see the class doc
                inputs = model.preprocessor(tf.constant(block))
                mask = np.asarray(inputs["padding_mask"])
                self._count_slots(mask[:n].sum(), mask.size)
                logits[start:start + n] = list(np.asarray(model.model.predict_on_batch(inputs))[:n])
            return [PredictionResult(r, row) for r, row in zip(batch, logits)]
        # Length buckets: each document runs in a [BUCKET_ROWS, its bucket length] batch, whatever its neighbours.
        encoded = buckets.encode(texts, model.preprocessor)
        cuts = encoded.document_cuts()
        slots = 0
        for cut in np.unique(cuts):
            members = np.flatnonzero(cuts == cut)
            for start in range(0, len(members), BUCKET_ROWS):
                rows = members[start:start + BUCKET_ROWS]
                padded = np.r_[rows, np.repeat(rows[-1:], BUCKET_ROWS - len(rows))]
                out = np.asarray(model.model.predict_on_batch(encoded.batch(padded)))
                slots += BUCKET_ROWS * int(cut)
                for i, row in zip(rows, out):
                    logits[i] = row
        self._count_slots(encoded.token_count, slots)
        return [PredictionResult(r, row) for r, row in zip(batch, logits)]

    @staticmethod
    def _count_slots(word_pieces, slots):
        beam.metrics.Metrics.counter(NAMESPACE, "teacher_word_pieces").inc(int(word_pieces))
        beam.metrics.Metrics.counter(NAMESPACE, "teacher_slots").inc(int(slots))

    def batch_elements_kwargs(self):
        return {"min_batch_size": self.batch_size, "max_batch_size": self.batch_size}

    def share_model_across_processes(self):
        return False


class _Count(beam.DoFn):
    """Passes elements through, counting them as `name`."""

    def __init__(self, name):
        self.name = name

    def setup(self):
        self.progress = _Progress(self.name)

    def process(self, element):
        self.progress.inc()
        yield element


class _ReuseLogits(beam.DoFn):
    """A record that came with teacher logits, as the `PredictionResult` RunInference would give."""

    def setup(self):
        self.reused = _Progress("logits_reused")

    def process(self, record):
        self.reused.inc()
        logits = np.asarray(record[TEACHER_LOGITS], np.float32)
        yield PredictionResult({k: v for k, v in record.items() if k != TEACHER_LOGITS}, logits)


class _ToExample(beam.DoFn):
    def process(self, result):
        from kdkeras.data import examples

        r = result.example
        example = examples.make_example(r["text"], r["labels"], result.inference, r[LABELED])
        features = example.features.feature
        features[SOURCE_ID].bytes_list.value.append(r["source_id"].encode())
        features[AUGMENTATIONS].bytes_list.value.extend(a.encode() for a in r["augmentations"])
        yield example.SerializeToString(deterministic=True)  # protobuf map order is per process otherwise


def _as_original(doc):
    """A document as it is, as the transfer set's record of its original (copy 0, no augmentation)."""
    return {**doc, "copy": 0, "augmentations": []}


class TransferSet(beam.PTransform):
    """Documents → serialized `tf.train.Example`s of the transfer set.

    Args:
        model_handler: gives teacher logits for records (`TeacherModelHandler`).
        multiplier: the transfer set is about `multiplier` × the input: the
            original and up to `multiplier - 1` augmented copies per document.
            1 means no augmentation (teacher logits only).
        config: `kdkeras.augment.AugmentConfig`.
        tag_batch_size: documents per POS-tagging batch.
        pos_tagger: `"fast"` (default: tags learnt once from a sample and
            looked up, `kdkeras.pos.FastTagger`) or `"spacy"` (spaCy's model
            on every document); see `TagDocuments`.
        tagger_sample_size: documents the fast tagger learns from.
    """

    def __init__(self, model_handler, multiplier=3, config=None, tag_batch_size=64, *, pos_tagger="fast",
                 tagger_sample_size=1000):
        super().__init__()
        if multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {multiplier}")
        self.model_handler = model_handler
        self.multiplier = multiplier
        self.config = config or augment.AugmentConfig()
        self.tag_batch_size = tag_batch_size
        _check_pos_tagger(pos_tagger)
        self.pos_tagger = pos_tagger
        self.tagger_sample_size = tagger_sample_size

    def expand(self, docs):
        # Unlabelled documents join as they are (no augmentation): the teacher labels them.
        docs, unlabeled = docs | "ByLabels" >> beam.Partition(lambda d, _: int(not d[LABELED]), 2)
        unlabeled = unlabeled | "UnlabeledAsIs" >> beam.Map(_as_original)
        if self.multiplier > 1:
            tagged = docs | "Tag" >> TagDocuments(
                pos_tagger=self.pos_tagger, sample_size=self.tagger_sample_size, batch_size=self.tag_batch_size)
            counts = tagged | "CountPosWords" >> beam.CombineGlobally(_CountWords())
            augmented = tagged | "Augment" >> beam.ParDo(
                _Augment(self.multiplier - 1, self.config), beam.pvalue.AsSingleton(counts))
        else:
            augmented = docs | "Originals" >> beam.Map(_as_original)
        records = (augmented, unlabeled) | "WithUnlabeled" >> beam.Flatten() | "DropDuplicates" >> DropDuplicates()
        # Records read with teacher logits (originals from TeacherInference) keep them; the rest meet the teacher.
        known, unknown = records | "HasLogits" >> beam.Partition(lambda r, _: int(TEACHER_LOGITS not in r), 2)
        computed = unknown | "TeacherLogits" >> RunInference(self.model_handler)
        reused = known | "ReuseLogits" >> beam.ParDo(_ReuseLogits())
        return (
            (computed | "CountComputed" >> beam.ParDo(_Count("logits_computed")), reused)
            | "AllLogits" >> beam.Flatten()
            | "ToExample" >> beam.ParDo(_ToExample())
        )


class WriteExamples(beam.PTransform):
    """Writes serialized examples as `<prefix>-SSSSS-of-NNNNN.gz` gzip TFRecord shards."""

    def __init__(self, file_path_prefix, num_shards=0):
        super().__init__()
        self.file_path_prefix = file_path_prefix
        self.num_shards = num_shards

    def expand(self, records):
        return records | "WriteTFRecord" >> beam.io.WriteToTFRecord(
            self.file_path_prefix, file_name_suffix=".gz", num_shards=self.num_shards,
            compression_type=beam.io.filesystem.CompressionTypes.GZIP)


def counters(result):
    """`{name: value}` of the transfer set's Beam counters from a finished `PipelineResult`."""
    values = dict.fromkeys(COUNTERS, 0)
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(NAMESPACE))
    for counter in query["counters"]:
        name = counter.key.metric.name
        values[name] = values.get(name, 0) + (counter.committed if counter.committed is not None else counter.attempted)
    return values
