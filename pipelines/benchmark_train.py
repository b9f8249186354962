"""Student training speed: `python -m pipelines.benchmark_train --dataset reuters`.

Times training epochs (one pass over the train split, the quick profile's
batch size, sequence length and hyperparameters) of KimCNN as 1-D
convolutions (`build_kimcnn`, what the students train), of the paper's 2-D
formulation of the same function (`build_kimcnn_conv2d`, hedwig's cost
model) and of the reg-LSTM and the boe for scale. Documents are tokenised once before
timing, so the figures are the model's forward + backward + update. Each
model trains one untimed epoch (tracing and compilation), then the models'
timed epochs are interleaved (A, B, C, A, B, C, ...) so that a change in the
machine's load hits every model alike; medians of --repeats epochs, per
second of wall time and of the process's CPU time, with the load average.
`--threads N` limits TensorFlow to N threads (what a worker of
`python -m pipelines.run --jobs` gets); `--models` picks the models.
Writes a JSON results file (default docs/results/train_speed_<dataset>.json,
`..._threads<N>.json` with `--threads`).
"""

import argparse
import json
import os
import statistics
import sys
import time

from pipelines import cli, configs

MODELS = ("kimcnn", "kimcnn_conv2d", "lstm", "boe")


def _models(value):
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(MODELS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    return chosen


def _build(kind, vocabulary_size, num_classes, hparams):
    from kdkeras import models
    from kdkeras.models.kimcnn import build_kimcnn_conv2d

    if kind == "kimcnn_conv2d":
        return build_kimcnn_conv2d(vocabulary_size, num_classes, **hparams["kimcnn"])
    return models.build_student(kind, vocabulary_size, num_classes, **hparams[kind])


def run(dataset, data_dir, output, *, profile="quick", repeats=5, models=MODELS, threads=None, command=""):
    """Times the training epochs and writes the results file; returns its dict."""
    import keras
    import numpy as np
    import tensorflow as tf

    from components.base import write_json
    from kdkeras import training

    if threads:  # before TensorFlow starts its thread pools
        training.limit_threads(threads)
    from kdkeras.distillation import task_loss
    from kdkeras.data import registry
    from kdkeras.text import WordTokenizer

    spec = registry.get_dataset(dataset)
    splits, names = registry.load_dataset(spec, data_dir)
    train = splits["train"]
    config = configs.build_config(dataset, spec.multi_label, profile)
    student = config["student"]
    tokenizer = WordTokenizer.adapt(train.texts, max_tokens=student["max_tokens"],
                                    sequence_length=student["sequence_length"])
    ids = np.asarray(tokenizer(train.texts))
    y = training.targets(train.labels, spec.multi_label).astype("float32")
    hparams = {k: dict(config["students"][k]["hparams"]) for k in ("kimcnn", "lstm", "boe")}
    batch_size = student["batch_size"]
    data = tf.data.Dataset.from_tensor_slices((ids, y)).batch(batch_size).cache()
    loss = task_loss(spec.multi_label)
    built = {}
    for kind in models:
        keras.utils.set_random_seed(0)
        model = _build(kind, tokenizer.vocabulary_size, len(names), hparams)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
        model.fit(data, epochs=1, shuffle=False, verbose=0)  # tracing and compilation, untimed
        built[kind] = model
    load_start = os.getloadavg()
    times = {kind: [] for kind in models}
    for r in range(repeats):
        for kind in models:
            wall, cpu = time.perf_counter(), time.process_time()
            built[kind].fit(data, epochs=1, shuffle=False, verbose=0)
            times[kind].append((time.perf_counter() - wall, time.process_time() - cpu))
            print(f"repeat {r + 1}/{repeats} {kind}: {times[kind][-1][0]:.2f} s", flush=True)
    rows = {}
    for kind in models:
        rows[kind] = {
            "params": built[kind].count_params(),
            "epoch_s": round(statistics.median(t[0] for t in times[kind]), 3),
            "epoch_cpu_s": round(statistics.median(t[1] for t in times[kind]), 3),
            "epoch_s_runs": [round(t[0], 3) for t in times[kind]],
        }
    base = rows.get("kimcnn_conv2d")
    for kind in models if base else ():
        rows[kind]["conv2d_over_this_wall"] = round(base["epoch_s"] / rows[kind]["epoch_s"], 2)
        rows[kind]["conv2d_over_this_cpu"] = round(base["epoch_cpu_s"] / rows[kind]["epoch_cpu_s"], 2)
    result = {
        "dataset": dataset, "profile": profile, "documents": len(train.texts), "batch_size": batch_size,
        "steps_per_epoch": int(data.cardinality()), "sequence_length": student["sequence_length"],
        "vocabulary_size": tokenizer.vocabulary_size, "hparams": hparams, "repeats": repeats,
        "models": rows, "cpu_count": os.cpu_count(), "threads": threads or "all",
        "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
        "command": command,
    }
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    write_json(output, result)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pipelines.benchmark_train", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="reuters")
    p.add_argument("--data-dir")
    p.add_argument("--profile", default="quick", choices=configs.PROFILES)
    p.add_argument("--repeats", type=int, default=5, help="timed epochs per model (medians reported)")
    p.add_argument("--models", default=",".join(MODELS), type=_models,
                   help=f"models to time, comma-separated (default: {','.join(MODELS)})")
    p.add_argument("--threads", type=int, help="TensorFlow threads (default: all cores)")
    p.add_argument("--output")
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)
    suffix = f"_threads{args.threads}" if args.threads else ""
    output = args.output or os.path.join("docs", "results", f"train_speed_{args.dataset}{suffix}.json")
    command = cli.command_line("pipelines.benchmark_train", argv)
    result = run(args.dataset, args.data_dir, output, profile=args.profile, repeats=args.repeats, models=args.models,
                 threads=args.threads, command=command)
    print(json.dumps(result["models"], indent=2))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
