"""Builds the transfer set with Apache Beam: `python -m pipelines.transfer_set --dataset reuters --teacher … --output …`.

Locally (the default: DirectRunner, one worker process per CPU core) the
train split is read and validated by ExampleGen into OUTPUT/ExampleGen (or
taken from --examples), and the TransferSet component writes
OUTPUT/TransferSet/Split-train/data_tfrecord-*.gz with schema.json and
transfer_set.json (counters, timings). Finished artifacts are reused.

Any option this command does not know is a Beam pipeline option, so the same
command runs on Google Cloud Dataflow (needs `pip install "apache-beam[gcp]"`;
paths then are gs:// and the examples must already be there):

    python -m pipelines.transfer_set --dataset reuters \\
        --examples gs://BUCKET/run/ExampleGen --teacher gs://BUCKET/run/TeacherTrainer \\
        --output gs://BUCKET/run --runner DataflowRunner --project PROJECT \\
        --region REGION --temp_location gs://BUCKET/tmp --setup_file ./setup.py
"""

import argparse
import json
import sys

from kdkeras.data import registry
from pipelines import cli


def parser():
    p = cli.ArgumentParser(prog="python -m pipelines.transfer_set", description=__doc__.split("\n\n")[0],
                           epilog="Other options are passed to Beam (e.g. --runner, --direct_num_workers, "
                                  "--project, --region, --temp_location, --setup_file).",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=sorted(registry.DATASETS))
    p.add_argument("--data-dir", help="dataset folder in hedwig layout (default: the shipped copy, reuters only)")
    p.add_argument("--task", choices=["multi_label", "single_label"], help="task type of custom data")
    p.add_argument("--examples", help="an ExampleGen artifact folder to read instead of --data-dir")
    p.add_argument("--teacher", required=True, help="a TeacherTrainer artifact folder (e.g. RUN/TeacherTrainer)")
    p.add_argument("--output", required=True, help="run folder; the transfer set goes to OUTPUT/TransferSet")
    p.add_argument("--unlabeled", metavar="PATH",
                   help="unlabelled documents to add (text lines or .jsonl with 'text', gzip or not), validated "
                        "into OUTPUT/ExampleGen; remote runs read EXAMPLES/Split-unlabeled when it exists")
    p.add_argument("--augment-multiplier", type=int,
                   help="records per train document (default: the paper's, 3 Reuters, 4 IMDB/AAPD, 1 Yelp)")
    p.add_argument("--p-mask", type=float, default=0.1)
    p.add_argument("--p-pos", type=float, default=0.1)
    p.add_argument("--p-ngram", type=float, default=0.25)
    p.add_argument("--max-ngram", type=int, default=5)
    p.add_argument("--p-shuffle", type=float, default=0.5)
    p.add_argument("--n-iter", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=512,
                   help="documents per teacher inference batch (split there by length bucket)")
    p.add_argument("--pos-tagger", choices=["fast", "spacy"], default="fast",
                   help="fast: tags learnt once from spaCy on a sample, then looked up (default); spacy: spaCy on "
                        "every document")
    p.add_argument("--tagger-sample-size", type=int, default=1000, help="documents the fast tagger learns from")
    p.add_argument("--teacher-sequence-length", type=cli.positive_int, metavar="N",
                   help="word pieces the teacher reads per document, when more than it trained on (default: as many "
                        "as the TeacherInference given as --examples read, else its training length)")
    p.add_argument("--force", action="store_true")
    cli.add_verbose(p)
    return p


def _is_remote(path):
    return "://" in path


def main(argv=None):
    args, beam_args = parser().parse_known_args(argv)
    cli.quiet_console(args)
    from components.artifacts import has_split
    from components.base import Artifact, removed_on_failure
    from components.lock import RunLock, RunLockedError
    from components.example_gen import ExampleGen
    from components.transfer_set import TransferSet, beam_options, build_pipeline, check_teacher_dir
    from kdkeras.data.hedwig import DataError
    from pipelines import configs

    spec = registry.get_dataset(args.dataset)
    multi_label = spec.multi_label if args.task is None else args.task == "multi_label"
    multiplier = args.augment_multiplier or configs.paper_settings(args.dataset, multi_label)["augment_multiplier"]
    params = dict(multiplier=multiplier, p_mask=args.p_mask, p_pos=args.p_pos, p_ngram=args.p_ngram,
                  max_ngram=args.max_ngram, p_shuffle=args.p_shuffle, n_iter=args.n_iter, augment_seed=args.seed,
                  batch_size=args.batch_size, pos_tagger=args.pos_tagger, tagger_sample_size=args.tagger_sample_size)
    try:
        params["teacher_sequence_length"] = args.teacher_sequence_length or _examples_read_length(args.examples)
        if _is_remote(args.output):
            return _run_remote(args, params, beam_args, build_pipeline, beam_options)
        check_teacher_dir(args.teacher)  # before anything is written
        teacher = Artifact(args.teacher)
        if args.examples and args.unlabeled:
            raise ValueError("--unlabeled is read by ExampleGen: give --data-dir (or the shipped data), not --examples")
        lock = RunLock(args.output)  # one writer per run directory, ExampleGen included
        try:
            if args.examples:
                lock.acquire()
                examples = Artifact(args.examples)
            else:
                with removed_on_failure(args.output):  # a first run that fails here leaves no folders behind
                    lock.acquire()
                    examples = ExampleGen(dataset=args.dataset, data_dir=args.data_dir,
                                          multi_label=None if args.task is None else multi_label,
                                          unlabeled=args.unlabeled).run({}, args.output, args.force)
            inputs = {"examples": examples, "teacher": teacher}
            if has_split(examples, "unlabeled"):
                inputs["unlabeled"] = examples
            component = TransferSet(beam_args=beam_args or None, **params)
            artifact = component.run(inputs, args.output, args.force)
        finally:
            lock.release()
    except (DataError, FileNotFoundError, ValueError, RunLockedError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(json.dumps(artifact.metadata["results"], indent=2))
    return 0


def _examples_read_length(examples):
    """The word pieces a TeacherInference artifact's teacher read (so copies are read like the originals), or None."""
    if not examples:
        return None
    import tensorflow as tf

    from components.base import METADATA_FILE

    path = f"{examples}/{METADATA_FILE}"
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        metadata = json.load(f)
    return metadata.get("parameters", {}).get("sequence_length") if metadata.get("component") == "TeacherInference" else None


def _run_remote(args, params, beam_args, build_pipeline, beam_options):
    """Runs the graph directly against gs:// (or other remote) paths, e.g. on Dataflow."""
    import apache_beam as beam
    import tensorflow as tf

    from kdkeras import augment
    from kdkeras import transfer_set as ts

    if not args.examples:
        raise ValueError("a remote --output needs --examples: an ExampleGen artifact where the workers can read it")
    with tf.io.gfile.GFile(f"{args.examples}/schema.json") as f:
        schema = json.load(f)
    target = f"{args.output}/TransferSet"
    config = augment.AugmentConfig(p_mask=params["p_mask"], p_pos=params["p_pos"], p_ngram=params["p_ngram"],
                                   max_ngram=params["max_ngram"], p_shuffle=params["p_shuffle"],
                                   n_iter=params["n_iter"], seed=params["augment_seed"])
    if args.unlabeled:
        raise ValueError("a remote run reads unlabelled documents from EXAMPLES/Split-unlabeled: run "
                         "`python -m pipelines.transfer_set --unlabeled PATH` locally first (it validates them into "
                         "OUTPUT/ExampleGen) and copy that folder to the bucket")
    unlabeled = f"{args.examples}/Split-unlabeled/data_tfrecord-*.gz"
    pipeline = beam.Pipeline(options=beam_options(beam_args))
    build_pipeline(pipeline, f"{args.examples}/Split-train/data_tfrecord-*.gz", schema["num_classes"], args.teacher,
                   f"{target}/Split-train/data_tfrecord", params["multiplier"], config, batch_size=params["batch_size"],
                   unlabeled_pattern=unlabeled if tf.io.gfile.glob(unlabeled) else None,
                   pos_tagger=params["pos_tagger"], tagger_sample_size=params["tagger_sample_size"],
                   teacher_sequence_length=params["teacher_sequence_length"])
    result = pipeline.run()
    result.wait_until_finish()
    tf.io.gfile.copy(f"{args.examples}/schema.json", f"{target}/schema.json", overwrite=True)
    print(json.dumps({"counters": ts.counters(result), "parameters": params}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
