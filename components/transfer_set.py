"""TransferSet: the augmented train split with teacher logits, built by Apache Beam."""

import os
import shutil
import time

from components.artifacts import (PREPROCESSOR_DIR, SCHEMA_FILE, TEACHER_MODEL_FILE, TRANSFER_SET_FILE, load_schema,
                                  split_folder, teacher_jit_compile)
from components.base import Component, ComponentSpec, write_json
from kdkeras import augment
from kdkeras import transfer_set as ts
from kdkeras.data import examples

DEFAULT_BEAM_ARGS = ("--runner=DirectRunner", "--direct_running_mode=multi_processing")
# Worker processes keep the transfer set's progress lines but not Beam's own start/stop chatter.
QUIET_WORKERS = '--sdk_harness_log_level_overrides={"apache_beam": "WARNING", "__main__": "WARNING"}'


def beam_options(beam_args=None):
    """`PipelineOptions` from command-line style arguments; local multi-process by default."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(beam_args) if beam_args else list(DEFAULT_BEAM_ARGS)
    if not any(a.startswith("--direct_num_workers") for a in args):
        args.append(f"--direct_num_workers={os.cpu_count() or 1}")
    if not any(a.startswith("--sdk_harness_log_level_overrides") for a in args):
        args.append(QUIET_WORKERS)
    return PipelineOptions(args)


def check_teacher_dir(teacher_dir):
    """Raises `FileNotFoundError` naming `teacher_dir` unless it holds a trained teacher and its preprocessor."""
    for name in (TEACHER_MODEL_FILE, os.path.join(PREPROCESSOR_DIR, "preprocessor.json")):
        if not os.path.isfile(os.path.join(teacher_dir, name)):
            raise FileNotFoundError(
                f"{teacher_dir}: no {name} (teacher weights and preprocessor); expected a TeacherTrainer "
                "artifact folder such as RUN/TeacherTrainer"
            )


def build_pipeline(pipeline, examples_pattern, num_classes, teacher_dir, output_prefix, multiplier, config, *,
                   batch_size=512, num_shards=0, unlabeled_pattern=None, pos_tagger="fast", tagger_sample_size=1000,
                   jit_compile=True, teacher_sequence_length=None):
    """Adds read → TransferSet → write to `pipeline` (any runner; paths local or gs://).

    Args:
        pipeline: a `beam.Pipeline`.
        examples_pattern: train TFRecords, e.g. `RUN/ExampleGen/Split-train/data_tfrecord-*.gz`.
        num_classes: label bits per record.
        teacher_dir: a TeacherTrainer artifact folder (`teacher.keras`, `preprocessor/`).
        output_prefix: shards are written as `<prefix>-SSSSS-of-NNNNN.gz`.
        multiplier, config: see `kdkeras.transfer_set.TransferSet`.
        batch_size: documents per teacher inference batch (`kdkeras.transfer_set.TeacherModelHandler`).
        num_shards: output shards (0: the runner decides).
        unlabeled_pattern: optional unlabelled documents, e.g.
            `RUN/ExampleGen/Split-unlabeled/data_tfrecord-*.gz`.
        pos_tagger, tagger_sample_size: see `kdkeras.transfer_set.TransferSet`.
        jit_compile: run the teacher through XLA (see `kdkeras.transfer_set.TeacherModelHandler`).
        teacher_sequence_length: word pieces the teacher reads, when more than it
            was trained on (see `kdkeras.windows.load`).
    """
    import apache_beam as beam

    handler = ts.TeacherModelHandler(
        os.path.join(teacher_dir, TEACHER_MODEL_FILE), os.path.join(teacher_dir, PREPROCESSOR_DIR), batch_size,
        jit_compile=jit_compile, sequence_length=teacher_sequence_length,
    )
    docs = pipeline | "ReadExamples" >> ts.ReadExamples(examples_pattern, num_classes)
    if unlabeled_pattern:
        docs = (docs, pipeline | "ReadUnlabeled" >> ts.ReadExamples(unlabeled_pattern, num_classes)) | (
            "AllDocuments" >> beam.Flatten())
    return (
        docs
        | "TransferSet" >> ts.TransferSet(handler, multiplier, config, pos_tagger=pos_tagger,
                                         tagger_sample_size=tagger_sample_size)
        | "WriteExamples" >> ts.WriteExamples(output_prefix, num_shards)
    )


class TransferSet(Component):
    """Builds the transfer set of the paper from the train split with an Apache Beam pipeline.

    Inputs: `examples` (ExampleGen, or TeacherInference: then the original
    documents keep the logits it stored and only the augmented copies go
    through the teacher), `teacher` (TeacherTrainer) and optionally
    `unlabeled` (an ExampleGen artifact with `Split-unlabeled`: documents
    without labels, which the teacher labels and which join unaugmented).

    Outputs `Split-train/data_tfrecord-*.gz` (records with `text`, `labels`,
    `teacher_logits`, `source_id`, `augmentations`), `schema.json` and
    `transfer_set.json` (Beam counters, records per augmentation rule,
    timings, and `teacher_padding`: the teacher's padded word-piece slots
    over the real word pieces, minus 1).

    Parameters:
        multiplier: about `multiplier` × train records (original + copies).
        p_mask, p_pos, p_ngram, max_ngram, p_shuffle, n_iter, augment_seed:
            `kdkeras.augment.AugmentConfig`.
        batch_size: documents per teacher inference batch (`kdkeras.transfer_set.TeacherModelHandler`).
        pos_tagger: `"fast"` (tags learnt once from spaCy on
            `tagger_sample_size` documents, then looked up; 96 % agreement,
            >10× faster) or `"spacy"` (spaCy on every document).
        tagger_sample_size: documents the fast tagger learns from.
        teacher_sequence_length: word pieces the teacher reads per document,
            when more than it was trained on (None: its training length; the
            TeacherInference that gave `examples` their logits should read
            as many).

    Args:
        beam_args: Beam pipeline options, e.g. `["--runner=DataflowRunner",
            "--project=…"]`; not part of the fingerprint (where the work
            runs does not change its result). Default: DirectRunner,
            multi-processing, one worker per CPU core.
    """

    SPEC = ComponentSpec(
        inputs=("examples", "teacher"),
        optional_inputs=("unlabeled",),
        parameters=dict(
            multiplier=3, p_mask=0.1, p_pos=0.1, p_ngram=0.25, max_ngram=5, p_shuffle=0.5, n_iter=20,
            augment_seed=0, batch_size=512, pos_tagger="fast", tagger_sample_size=1000, teacher_sequence_length=None,
        ),
        description="augmented train split with teacher logits (Beam)",
        added_parameters=("teacher_sequence_length",),
        # Every document meets the teacher in a batch of fixed shape (TeacherModelHandler): the records do
        # not depend on the batch size (64, the default, when it was part of the fingerprint).
        execution_parameters=dict(batch_size=64),
    )

    def __init__(self, name=None, beam_args=None, **parameters):
        super().__init__(name, **parameters)
        self.beam_args = beam_args

    def augment_config(self):
        p = self.parameters
        return augment.AugmentConfig(
            p_mask=p["p_mask"], p_pos=p["p_pos"], p_ngram=p["p_ngram"], max_ngram=p["max_ngram"],
            p_shuffle=p["p_shuffle"], n_iter=p["n_iter"], seed=p["augment_seed"],
        )

    def execute(self, inputs, output_dir, work_dir):
        import apache_beam as beam

        p = self.parameters
        check_teacher_dir(inputs["teacher"].uri)  # fail here, not inside a Beam worker
        schema = load_schema(inputs["examples"])
        pattern = inputs["examples"].path(split_folder("train"), examples.SHARD_PATTERN)
        split_dir = os.path.join(output_dir, split_folder("train"))
        os.makedirs(split_dir)
        options = beam_options(self.beam_args)
        started = time.time()
        pipeline = beam.Pipeline(options=options)
        unlabeled = None
        if "unlabeled" in inputs:
            unlabeled = inputs["unlabeled"].path(split_folder("unlabeled"), examples.SHARD_PATTERN)
        build_pipeline(pipeline, pattern, schema["num_classes"], inputs["teacher"].uri,
                       os.path.join(split_dir, "data_tfrecord"), p["multiplier"], self.augment_config(),
                       batch_size=p["batch_size"], unlabeled_pattern=unlabeled, pos_tagger=p["pos_tagger"],
                       tagger_sample_size=p["tagger_sample_size"], jit_compile=teacher_jit_compile(inputs["teacher"]),
                       teacher_sequence_length=p["teacher_sequence_length"])
        result = pipeline.run()
        result.wait_until_finish()
        seconds = time.time() - started
        counts = ts.counters(result)
        rows, rules = _summarise(split_dir, schema["num_classes"])
        stats = {"counters": counts, "records": rows, "records_by_rule": rules, "train_rows": schema["rows"]["train"],
                 "unlabeled_records": rules.get("unlabeled", 0),
                 "seconds": round(seconds, 1), "records_per_s": round(rows / seconds, 2)}
        if counts["teacher_word_pieces"]:
            stats["teacher_padding"] = round(counts["teacher_slots"] / counts["teacher_word_pieces"] - 1, 4)
        self.log(f"{rows} records from {counts['documents_read']} documents "
                 f"({counts['copies_made']} copies, {counts['duplicates_dropped']} duplicates dropped, "
                 f"{counts['logits_reused']} teacher logits reused, "
                 f"{stats.get('teacher_padding', 0):.0%} padding in the teacher's batches) in {seconds:.0f} s")
        shutil.copy(inputs["examples"].path(SCHEMA_FILE), os.path.join(output_dir, SCHEMA_FILE))
        write_json(os.path.join(output_dir, TRANSFER_SET_FILE), stats)
        return stats


def _summarise(split_dir, num_classes):
    """Records and records per augmentation rule, read back from the shards."""
    import tensorflow as tf

    rows, rules = 0, {}
    for record in tf.data.TFRecordDataset(examples.shard_files(split_dir), compression_type="GZIP"):
        features = tf.train.Example.FromString(record.numpy()).features.feature
        rows += 1
        unlabeled = examples.LABELED in features and not features[examples.LABELED].int64_list.value[0]
        applied = [a.decode() for a in features[ts.AUGMENTATIONS].bytes_list.value] or [
            "unlabeled" if unlabeled else "original"]
        for rule in applied:
            rules[rule] = rules.get(rule, 0) + 1
    return rows, rules
