"""Command line: `python -m pipelines.run --dataset reuters [--profile quick]`."""

import argparse
import os
import shlex
import sys

from kdkeras import names
from kdkeras.data import registry
from pipelines import cli, configs

DESCRIPTION = """Distil a DocBERT teacher into small students and export them.

Runs ExampleGen → TeacherTrainer → TeacherInference → [TransferSet] → StudentTrainer (each student without
and with KD, each seed) → Baselines (scikit-learn LR, SVM) → Evaluator → Exporter, writing
artifacts to OUTPUT_DIR/DATASET/RUN_ID/ and a report.json. Finished components are reused
when their inputs and parameters are unchanged."""


def _datasets_help():
    return "; ".join(f"{name}: {'multi' if s.multi_label else 'single'}-label" + (" (shipped)" if s.vendored else "")
                     for name, s in registry.DATASETS.items() if name != "custom") + "; custom: your own data (--data-dir)"


def _students(value):
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in chosen if n not in names.STUDENTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown student(s) {unknown}; choose from {', '.join(names.STUDENTS)}")
    return chosen


def _floats(value):
    try:
        values = sorted({0.0, *(float(v) for v in value.split(",") if v.strip())})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {value!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"λ must not be negative, got {value!r}")
    return values


def parser():
    p = cli.ArgumentParser(prog="python -m pipelines.run", description=DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, choices=sorted(registry.DATASETS), help=_datasets_help())
    p.add_argument("--data-dir", help="dataset folder: <split>.tsv[.gz] in hedwig layout or <split>.jsonl[.gz] "
                                      "with label names and labels.txt (default: the shipped copy, reuters only)")
    p.add_argument("--profile", default="quick", choices=list(configs.PROFILES),
                   help="quick (default): 16-24 min on 2 fast CPU cores (Reuters; longer on slower cores); reference: "
                        "a 10-epoch teacher at 128 word pieces, 3 student seeds; paper: the paper's settings; smoke: "
                        "tiny, ~1 min")
    p.add_argument("--output-dir", default="saved_models", help="root of run artifacts (default: saved_models)")
    p.add_argument("--run-id", type=cli.plain_name("run id"), help="run directory name (default: the profile)")
    p.add_argument("--task", choices=["multi_label", "single_label"], help="task type of custom data")
    p.add_argument("--force", action="store_true", help="recompute every component")
    p.add_argument("--unlabeled", metavar="PATH",
                   help="unlabelled in-domain documents for the transfer set (one per line, or .jsonl with a "
                        "'text' field; gzip or not): the teacher labels them and distilled students learn from "
                        "its logits on them")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="skip malformed data rows and count them (default: stop at the first, naming file:line)")
    p.add_argument("--students", default=",".join(names.STUDENTS), type=_students,
                   help="comma-separated students, each trained without and with KD (default: "
                        f"{','.join(names.STUDENTS)})")
    p.add_argument("--seeds", type=int, default=None, help="train every student N times (seeds s..s+N-1)")
    p.add_argument("--no-baselines", action="store_true", help="skip the scikit-learn LR/SVM baselines")
    p.add_argument("--distribute", choices=list(names.STRATEGIES), default="none",
                   help="tf.distribute strategy for training (mirrored: all local GPUs/devices)")
    p.add_argument("--jobs", type=cli.positive_int, metavar="N",
                   help="students trained at once, each in its own process with its share of the cores (default: "
                        "one per core, at most 4; 1 with --distribute or a GPU)")
    g = p.add_argument_group("overrides")
    g.add_argument("--teacher", dest="backbone",
                   help="teacher backbone: minilm (offline default), a KerasHub preset, a HuggingFace BERT folder, tiny")
    g.add_argument("--teacher-epochs", type=int)
    g.add_argument("--teacher-sequence-length", type=int)
    g.add_argument("--teacher-learning-rate", type=float)
    g.add_argument("--teacher-inference-length", type=cli.positive_int, metavar="N",
                   help="word pieces the teacher reads for its logits (TeacherInference, transfer set) when more "
                        "than it trained on, up to its position embeddings' 512 (quick: 128; default: its "
                        "training length; not with --teacher-windows)")
    g.add_argument("--teacher-windows", type=int, metavar="N",
                   help="teacher reads long documents as up to N overlapping windows of its sequence length and "
                        "pools their logits, in training and for logits (default 1: truncate)")
    g.add_argument("--teacher-window-pooling", choices=["mean", "max"], help="pooling of window logits (default mean)")
    g.add_argument("--teacher-pooling", choices=["cls", "pooled", "mean"],
                   help="document vector of the teacher: the [CLS] state (default, the paper's), BERT's pooler on "
                        "it, or the mean of the word-piece states")
    g.add_argument("--teacher-dropout", type=float, metavar="RATE",
                   help="dropout inside the teacher's backbone while it trains (default: the checkpoint's, 0.1); "
                        "0 makes a CPU training step 9–19 %% cheaper")
    g.add_argument("--teacher-freeze-embeddings", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the teacher backbone's embeddings (half its weights) at their pre-trained values "
                        "(quick: frozen)")
    g.add_argument("--teacher-frozen-layers", type=int, metavar="K",
                   help="keep the teacher backbone's first K transformer layers at their pre-trained values "
                        "(no backward pass below the first trained layer; quick: 4 of MiniLM-L6's 6, 0 trains all)")
    g.add_argument("--teacher-cache-frozen", action=argparse.BooleanOptionalAction, default=None,
                   help="run the frozen embeddings and layers once per document and train the layers above on "
                        "their cached output (default; the frozen layers then run without dropout)")
    g.add_argument("--student-updates", type=int, metavar="N",
                   help="optimizer updates per student, the same for a plain student and its distilled twin")
    g.add_argument("--hidden-dim", type=int, help="LSTM units per direction")
    g.add_argument("--lr-max-tokens", type=cli.positive_int, metavar="N",
                   help="vocabulary of the tf-idf LR student (quick: 5,000 words, best on Reuters; long reviews gain "
                        "from more)")
    g.add_argument("--student-sequence-length", type=int, metavar="N",
                   help="words every word-id student reads (default: the profile's; quick: 120, the boe 400)")
    g.add_argument("--word-vectors", help="student word vectors: random, teacher, lsa, or a word2vec/GloVe file")
    g.add_argument("--alpha", type=float,
                   help="weight λ of the distillation term, fixed (default: chosen per student on dev from "
                        "--alpha-grid)")
    g.add_argument("--alpha-grid", type=_floats, metavar="L1,L2,...",
                   help="λ candidates chosen from on dev; 0 is always included (default: the profile's; quick: 0 and "
                        "a quarter of the paper's λ multi-label, also the paper's λ single-label; reference: 0, a "
                        "quarter, 1 and 4× the paper's λ)")
    g.add_argument("--temperature", type=float)
    g.add_argument("--seed", type=int)
    g.add_argument("--max-docs", type=int, help="use only the first N documents of each split (and of --unlabeled)")
    g.add_argument("--augment-multiplier", type=int,
                   help="transfer set of about N × train (original + augmented copies, teacher logits) for the "
                        "distilled students; 1: none. Default, as in the paper: 3 Reuters, 4 IMDB/AAPD, 1 Yelp")
    g.add_argument("--beam-args", type=shlex.split, default=None,
                   help='Beam options for the transfer set, e.g. "--direct_num_workers=4" (default: '
                        "DirectRunner, one process per core)")
    cli.add_verbose(p)
    return p


def run_config(args, spec, multi_label=None):
    """The run configuration: the profile's recipe for the dataset with the command line's overrides."""
    overrides = {
        "teacher": {"backbone": args.backbone, "epochs": args.teacher_epochs,
                    "sequence_length": args.teacher_sequence_length, "learning_rate": args.teacher_learning_rate,
                    "windows": args.teacher_windows, "window_pooling": args.teacher_window_pooling,
                    "pooling": args.teacher_pooling, "backbone_dropout": args.teacher_dropout,
                    "freeze_embeddings": args.teacher_freeze_embeddings, "frozen_layers": args.teacher_frozen_layers,
                    "cache_frozen": args.teacher_cache_frozen},
        "student": {"word_vectors": args.word_vectors, "sequence_length": args.student_sequence_length,
                    "distribute": None if args.distribute == "none" else args.distribute},
        "students": {name: {"updates": args.student_updates} for name in names.STUDENTS},
        "teacher_inference_length": args.teacher_inference_length,
        "alpha": args.alpha, "alpha_grid": args.alpha_grid, "temperature": args.temperature, "seed": args.seed, "seeds": args.seeds,
        "max_docs": args.max_docs, "augment_multiplier": args.augment_multiplier,
    }
    if args.distribute != "none":
        overrides["teacher"]["distribute"] = args.distribute
    overrides["students"]["lr"]["max_tokens"] = args.lr_max_tokens
    config = configs.build_config(args.dataset, spec.multi_label if multi_label is None else multi_label,
                                  args.profile, overrides)
    if args.hidden_dim:
        config["students"]["lstm"]["hparams"]["hidden_dim"] = args.hidden_dim
    return config


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.teacher_inference_length and (args.teacher_windows or 1) > 1:
        p.error("--teacher-inference-length: a teacher that reads windows reads them at its training length")
    cli.quiet_console(args)
    # Imported here so that --help and argument errors are instant.
    from kdkeras.data.hedwig import DataError
    from kdkeras.models import ModelLoadError
    from kdkeras.models.backbones import BackboneError, FrozenLayersError
    from components.lock import RunLockedError
    from kdkeras.paths import OutputDirError, UnsafePathError
    from pipelines import pipeline

    spec = registry.get_dataset(args.dataset)
    multi_label = None if args.task is None else args.task == "multi_label"
    config = run_config(args, spec, multi_label)
    try:
        report, run_dir = pipeline.run_pipeline(
            args.dataset, config, output_dir=args.output_dir, data_dir=args.data_dir, run_id=args.run_id,
            multi_label=multi_label, force=args.force, students=args.students, baselines=not args.no_baselines, beam_args=args.beam_args,
            skip_bad_rows=args.skip_bad_rows, unlabeled=args.unlabeled,
            jobs=cli.jobs(args.jobs, distribute=args.distribute),
        )
    except (DataError, BackboneError, ModelLoadError, UnsafePathError, OutputDirError, RunLockedError) as e:
        # The quick profile freezes 4 layers; a smaller custom backbone needs the flag.
        hint = " (set --teacher-frozen-layers)" if isinstance(e, FrozenLayersError) else ""
        print(f"error: {' '.join(str(e).split())}{hint}", file=sys.stderr)
        return 2
    print()
    print(pipeline.format_report(report))
    skipped = report.get("skipped_rows", {})
    if skipped.get("total"):
        counts = ", ".join(f"{split}: {n}" for split, n in skipped["splits"].items() if n)
        print(f"\nskipped {skipped['total']} bad rows ({counts}) — see "
              f"{os.path.join(run_dir, 'ExampleGen', 'metadata.json')}")
    print(f"\nreport: {os.path.join(run_dir, pipeline.REPORT_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
