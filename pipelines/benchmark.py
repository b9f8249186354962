"""Inference cost of a run's teacher and students: `python -m pipelines.benchmark --run-dir RUN`.

For the teacher and every exported student, side by side on the same test
documents (raw text in, probabilities out, tokenisation included):
parameters; FLOPs per document counted from the model graph
(`kdkeras.cost`) at the model's input length; latency per document (batch
1, one thread) and throughput (batch 64, all threads) for Keras, the
SavedModel and the TFLite files where present; and ratios to the teacher.
Also the machine's float32 matmul GFLOP/s (one thread and all threads) and
the share of it the teacher's inference reaches. TensorFlow fixes its thread
count at start-up, so the one-thread measurements run in a child process
(`--phase latency`); the one-thread `.tflite` measurements run in another
one that never imports TensorFlow (`--phase tflite`), as on a device, so no
TensorFlow thread or library shares the process with the interpreter.
Writes `RUN/benchmark.json` and prints a table.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from pipelines import cli

BENCHMARK_FILE = "benchmark.json"
PLOT_FILE = "quality_vs_cost.png"
TFLITE_FILES = {"tflite": "model.tflite", "tflite_int8": "model_int8.tflite",
                "tflite_full_int8": "model_full_int8.tflite"}


def _repeated(fn, items, docs_per_item, min_seconds):
    """`(documents/s, ms per document)` of `fn` over `items`, repeated for at least `min_seconds` after a warm-up."""
    fn(items[0])  # warm-up (tracing, allocation)
    done, started = 0, time.perf_counter()
    while True:
        for item, docs in zip(items, docs_per_item):
            fn(item)
            done += docs
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed, 1000 * elapsed / done


def _timed(fn, texts, batch_size, min_seconds=2.0):
    """Documents/s and ms per document of `fn` over `texts` in batches."""
    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    docs_per_s, ms_per_doc = _repeated(fn, batches, [len(b) for b in batches], min_seconds)
    return {"docs_per_s": docs_per_s, "ms_per_doc": ms_per_doc}


def _models(run_dir):
    """`{name: (kind, paths)}` for the teacher and exported students of a run."""
    from components.artifacts import RunDir

    run = RunDir(run_dir)
    exporter = run.exports
    # The teacher as it gave its logits: reading as many word pieces as TeacherInference had it read.
    reads = run.teacher_logits.metadata["parameters"].get("sequence_length")
    models = {"teacher": ("teacher", {"artifact": run.teacher.uri, "reads": reads})}
    for name, uri in sorted(exporter.metadata["inputs"]["students"].items()):
        bundle = exporter.path(name)
        paths = {"artifact": uri, "saved_model": os.path.join(bundle, "saved_model")}
        paths.update({fmt: os.path.join(bundle, f) for fmt, f in TFLITE_FILES.items()
                      if os.path.exists(os.path.join(bundle, f))})
        models[name] = ("student", paths)
    return models


def _keras_callable(kind, artifact, reads=None):
    import tensorflow as tf

    from components.artifacts import load_student, load_teacher
    from components.base import Artifact

    if kind == "teacher":
        model, transform = load_teacher(Artifact(artifact), reads)
    else:
        model, transform = load_student(Artifact(artifact))
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def run(texts):
        return forward(transform(tf.constant(texts))).numpy()

    return model, transform, run


def _input_spec(kind, model, transform):
    import tensorflow as tf

    if kind == "teacher":
        length = transform.sequence_length
        return {k: tf.TensorSpec([1, length], tf.int32) for k in ("token_ids", "padding_mask", "segment_ids")}, length
    if transform.output_mode == "tf_idf":
        return tf.TensorSpec([1, transform.vocabulary_size], tf.float32), transform.vocabulary_size
    return tf.TensorSpec([1, transform.sequence_length], tf.int32), transform.sequence_length


def _baselines(run_dir):
    """`{name: (fitted scikit-learn pipeline, columns)}` refit with the C the run chose (they are never saved)."""
    from components.artifacts import BASELINE_SCORES_FILE, BASELINES, RunDir, load_schema, read_json, read_split
    from kdkeras import baselines

    run = RunDir(run_dir)
    if not run.has(BASELINES):
        return {}
    scores = read_json(run.baselines, BASELINE_SCORES_FILE)
    examples = run.examples
    multi_label = load_schema(examples)["multi_label"]
    train, _ = read_split(examples, "train")
    out = {}
    for name, row in scores.items():
        kind = "lr" if name == "sklearn_lr" else name
        model, columns = baselines.fit(kind, train, multi_label, C=row["C"])
        out[name] = (model, row["params"])
    return out


def _model_only(kind, model, transform, paths, threads):
    """Per format, a callable on pre-made features (tokenisation excluded) and the features of a text."""
    from kdkeras import predict

    out = {}
    if kind == "teacher":
        import tensorflow as tf

        forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        out["keras"] = (lambda features: forward(features), lambda texts: transform(tf.constant(texts)))
        return out
    for fmt in TFLITE_FILES:
        if fmt in paths:  # as kdkeras.predict runs it, one document at a time
            feed, invoke = predict.tflite_runner(
                paths[fmt], os.path.join(os.path.dirname(paths[fmt]), predict.TOKENIZER_DIR), threads)
            out[fmt] = (invoke, lambda texts, feed=feed: feed(texts[0]))
    return out


def _timed_model_only(runs, texts, rounds=5, min_seconds=0.3):
    """Per format, ms per document of the model alone on pre-made features (batch 1), tokenisation timed apart.

    The formats of one model are timed in turn, `rounds` times over, and each
    gets the median of its rounds, so a burst of other work on the machine
    moves one round of every format rather than one format's only number.
    """
    feeds, out = {}, {}
    for fmt, (run, features) in runs.items():
        started = time.perf_counter()
        feeds[fmt] = [features([t]) for t in texts]
        out[fmt] = {"tokenise_ms_per_doc": 1000 * (time.perf_counter() - started) / len(texts), "rounds": []}
    for _ in range(rounds):
        for fmt, (run, _) in runs.items():
            out[fmt]["rounds"].append(_repeated(run, feeds[fmt], [1] * len(texts), min_seconds)[1])
    for row in out.values():
        row["model_ms_per_doc"] = statistics.median(row["rounds"])
        row["model_ms_per_doc_rounds"] = row.pop("rounds")
    return out


def measure(run_dir, texts, batch_size, phase):
    """Per model and format: `{"docs_per_s", "ms_per_doc"}` in the current thread setting.

    In the latency phase (batch 1, one thread) also the model alone on
    pre-made features, with the tokenisation timed apart, and the
    scikit-learn baselines (vectorizer included).
    """
    from kdkeras import cost, predict

    threads = 1 if phase == "latency" else None
    out = {"matmul_gflops": cost.matmul_gflops(), "models": {}}
    for name, (kind, paths) in _models(run_dir).items():
        model, transform, run = _keras_callable(kind, paths["artifact"], paths.get("reads"))
        row = {"formats": {}}
        if phase == "throughput":
            spec, length = _input_spec(kind, model, transform)
            row.update(params=int(model.count_params()), flops_per_doc=cost.flops_per_example(model, spec),
                       input_length=length)
        row["formats"]["keras"] = _timed(run, texts, batch_size)
        # At batch 1 the .tflite files are timed in a process without TensorFlow (see `measure_tflite`).
        for fmt in ("saved_model",) if phase == "latency" else ("saved_model", *TFLITE_FILES):
            if fmt in paths:
                predictor = predict.Predictor.load(paths[fmt], num_threads=threads)
                row["formats"][fmt] = _timed(predictor.predict_proba, texts, batch_size)
        if phase == "latency" and kind == "teacher":
            for fmt, timings in _timed_model_only(_model_only(kind, model, transform, paths, threads), texts).items():
                row["formats"][fmt].update(timings)
        out["models"][name] = row
        print(f"[benchmark {phase}] {name}: " + ", ".join(
            f"{f} {v['docs_per_s']:.1f} docs/s" for f, v in row["formats"].items()), flush=True)
    for name, (model, params) in _baselines(run_dir).items():
        fn = model.decision_function  # the vectorizer included, as a user calls it
        out["models"][name] = {"params": params, "formats": {"sklearn": _timed(fn, texts, batch_size)}}
        print(f"[benchmark {phase}] {name}: sklearn {out['models'][name]['formats']['sklearn']['docs_per_s']:.1f} "
              "docs/s", flush=True)
    return out


def measure_tflite(run_dir, texts):
    """Batch-1, one-thread latency of every student's `.tflite` files, end to end and the model alone.

    Runs as a device does: only the LiteRT interpreter and `kdkeras.predict`,
    TensorFlow never imported (`tensorflow_imported` in the result says so).
    """
    from kdkeras import predict

    out = {"models": {}}
    for name, (kind, paths) in _models(run_dir).items():
        formats = {fmt: path for fmt, path in paths.items() if fmt in TFLITE_FILES}
        if kind != "student" or not formats:
            continue
        row = out["models"][name] = {"formats": {}}
        for fmt, path in formats.items():
            predictor = predict.Predictor.load(path, num_threads=1)
            row["formats"][fmt] = _timed(predictor.predict_proba, texts, 1)
        for fmt, timings in _timed_model_only(_model_only(kind, None, None, formats, 1), texts).items():
            row["formats"][fmt].update(timings)
        print(f"[benchmark tflite] {name}: " + ", ".join(
            f"{f} {v['model_ms_per_doc']:.4f} ms model alone" for f, v in row["formats"].items()), flush=True)
    out["tensorflow_imported"] = "tensorflow" in sys.modules
    return out


def _tflite_latency_in_child(run_dir, texts):
    """Runs `measure_tflite` in a fresh process that never imports TensorFlow (the texts go by a file)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(texts, f)
        f.flush()
        out = subprocess.run([sys.executable, "-m", "pipelines.benchmark", "--run-dir", run_dir, "--phase", "tflite",
                              "--texts", f.name], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"tflite latency phase failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _latency_in_child(run_dir, docs):
    """Runs the one-thread phase in a fresh process (TensorFlow's threads are fixed at start-up)."""
    env = {**os.environ, "KDKERAS_BENCHMARK_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "pipelines.benchmark", "--run-dir", run_dir, "--docs", str(docs),
                          "--phase", "latency"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"latency phase failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def benchmark(run_dir, docs=200):
    """Runs both phases and returns the `benchmark.json` content."""
    from components.artifacts import RunDir, read_split

    run = RunDir(run_dir)
    test, _ = read_split(run.examples, "test")
    texts = test.texts[:docs]
    latency = _latency_in_child(run_dir, docs)
    tflite = _tflite_latency_in_child(run_dir, texts)
    for name, row in tflite["models"].items():
        latency["models"][name]["formats"].update(row["formats"])
    throughput = measure(run_dir, texts, 64, "throughput")
    models = {}
    for name, row in throughput["models"].items():
        formats = {}
        for fmt, fast in row["formats"].items():
            slow = latency["models"][name]["formats"][fmt]
            formats[fmt] = {"latency_ms": slow["ms_per_doc"], "docs_per_s": fast["docs_per_s"],
                            **{k: slow[k] for k in ("model_ms_per_doc", "model_ms_per_doc_rounds",
                                                    "tokenise_ms_per_doc") if k in slow}}
        fastest = max(formats, key=lambda f: formats[f]["docs_per_s"])
        quickest = min(formats, key=lambda f: formats[f]["latency_ms"])
        models[name] = {"params": row["params"], "flops_per_doc": row.get("flops_per_doc"),
                        "input_length": row.get("input_length"), "formats": formats,
                        "latency_ms": formats[quickest]["latency_ms"], "latency_format": quickest,
                        "docs_per_s": formats[fastest]["docs_per_s"], "throughput_format": fastest}
        model_only = {f: v["model_ms_per_doc"] for f, v in formats.items() if "model_ms_per_doc" in v}
        if model_only:
            best = min(model_only, key=model_only.get)
            models[name].update(model_ms=model_only[best], model_format=best,
                                tokenise_ms=formats[best]["tokenise_ms_per_doc"])
            if row.get("flops_per_doc"):
                models[name]["model_gflops_achieved"] = row["flops_per_doc"] / (model_only[best] / 1000) / 1e9
    teacher = models["teacher"]
    for row in models.values():
        row["speedup_vs_teacher"] = row["docs_per_s"] / teacher["docs_per_s"]
        row["latency_ratio_vs_teacher"] = teacher["latency_ms"] / row["latency_ms"]
        row["params_ratio_vs_teacher"] = teacher["params"] / row["params"]
        if "model_ms" in row and "model_ms" in teacher:  # the models alone, tokenisation excluded
            row["model_ratio_vs_teacher"] = teacher["model_ms"] / row["model_ms"]
    keras_rate = teacher["formats"]["keras"]["docs_per_s"]
    machine = {
        "cpu_count": os.cpu_count(), "matmul_gflops_all_threads": throughput["matmul_gflops"],
        "matmul_gflops_one_thread": latency["matmul_gflops"],
        "teacher_gflops_achieved": teacher["flops_per_doc"] * keras_rate / 1e9,
    }
    machine["teacher_share_of_matmul_peak"] = machine["teacher_gflops_achieved"] / machine["matmul_gflops_all_threads"]
    machine["tflite_latency_without_tensorflow"] = not tflite["tensorflow_imported"]
    report = run.report()
    for name, row in models.items():
        scores = report["models"].get(name, {})
        row["test"] = scores.get("test_mean", scores.get("test"))
    return {"run_dir": run_dir, "documents": len(texts), "metric": report["metric"], "machine": machine,
            "models": models, "plain_students": {name: {"test": report["models"][name].get(
                "test_mean", report["models"][name]["test"]), "as": "kd_" + name}
                for name in report["models"] if "kd_" + name in models}}


def format_table(result):
    lines = [f"{'model':<11} {'test':>6} {'params':>11} {'MFLOPs/doc':>11} {'latency ms (best format)':>26} "
             f"{'model ms':>9} {'docs/s (best format)':>26} {'× teacher':>9}"]
    for name, row in result["models"].items():
        flops = f"{row['flops_per_doc'] / 1e6:>11.1f}" if row.get("flops_per_doc") else f"{'–':>11}"
        model = f"{row['model_ms']:>9.4f}" if "model_ms" in row else f"{'–':>9}"
        test = f"{row['test']:>6.2f}" if row.get("test") is not None else f"{'–':>6}"
        lines.append(f"{name:<11} {test} {row['params']:>11,d} {flops} "
                     f"{row['latency_ms']:>11.3f} {'(' + row['latency_format'] + ')':>14} {model} "
                     f"{row['docs_per_s']:>11.1f} {'(' + row['throughput_format'] + ')':>14} "
                     f"{row['speedup_vs_teacher']:>9.1f}")
    lines.append("")
    lines.append(f"{'model':<11} {'format':<17} {'latency ms':>11} {'model ms':>9} {'tokenise ms':>11} {'docs/s':>9}"
                 "   (batch 1 one thread / batch 64 all)")
    for name, row in result["models"].items():
        for fmt, f in row["formats"].items():
            model = f"{f['model_ms_per_doc']:>9.4f}" if "model_ms_per_doc" in f else f"{'–':>9}"
            tokenise = f"{f['tokenise_ms_per_doc']:>11.4f}" if "tokenise_ms_per_doc" in f else f"{'–':>11}"
            lines.append(f"{name:<11} {fmt:<17} {f['latency_ms']:>11.3f} {model} {tokenise} {f['docs_per_s']:>9.1f}")
    m = result["machine"]
    lines.append(f"matmul: {m['matmul_gflops_all_threads']:.1f} GFLOP/s all threads, {m['matmul_gflops_one_thread']:.1f} "
                 f"one thread; teacher inference reaches {m['teacher_gflops_achieved']:.1f} GFLOP/s "
                 f"({100 * m['teacher_share_of_matmul_peak']:.0f} % of the matmul rate)")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pipelines.benchmark", description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", required=True, help="a finished run of pipelines.run (with Exporter)")
    p.add_argument("--docs", type=int, default=200, help="test documents to time")
    p.add_argument("--phase", choices=["all", "latency", "tflite"], default="all", help=argparse.SUPPRESS)
    p.add_argument("--texts", help=argparse.SUPPRESS)  # --phase tflite: a JSON list of the texts to time
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)
    if args.phase == "tflite":
        with open(args.texts) as f:
            print(json.dumps(measure_tflite(args.run_dir, json.load(f))))
        return 0
    if args.phase == "latency":
        from kdkeras.training import limit_threads

        limit_threads(1)
        from components.artifacts import RunDir, read_split

        test, _ = read_split(RunDir(args.run_dir).examples, "test")
        print(json.dumps(measure(args.run_dir, test.texts[:args.docs], 1, "latency")))
        return 0
    from components.artifacts import EXPORTER, RunDir

    if not RunDir(args.run_dir).has(EXPORTER):
        print(f"error: {args.run_dir}: no finished Exporter artifact; run python -m pipelines.run first", file=sys.stderr)
        return 2
    from components.base import write_json
    from components.lock import RunLock, RunLockedError
    from kdkeras import plots

    try:
        with RunLock(args.run_dir):  # timings of a run being written would be wrong, and it would be rewritten
            result = benchmark(args.run_dir, args.docs)
            result["command"] = cli.command_line("pipelines.benchmark", argv)
            path = os.path.join(args.run_dir, BENCHMARK_FILE)
            write_json(path, result)
            plots.quality_vs_cost(result, os.path.join(args.run_dir, PLOT_FILE))
    except RunLockedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(result))
    print(f"\nbenchmark: {path} and {PLOT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
