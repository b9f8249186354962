"""Where the reg-LSTM's on-device time goes: `python -m pipelines.benchmark_lstm`.

Builds reg-LSTM students (`kdkeras.models.build_student("lstm", ...)`,
untrained: the time does not depend on the weights) for a grid of word-vector
and hidden sizes, exports each as `kdkeras.tflite.export_tflite` does (two
fused `UNIDIRECTIONAL_SEQUENCE_LSTM` ops on the unpadded document), float32
and dynamic-range int8, and times one document of `--words` words and one of
a single word at batch 1 on one thread. The difference over the extra words
is the cost of a time step (both directions), the one-word time the fixed
cost; with the multiply-adds of a step (`4·H·(E + H)` per direction) that
gives the GFLOP/s the fused op reaches. The files are timed in turn,
`--repeats` rounds, medians reported, so a change in the machine's load hits
every file alike. Writes a JSON results file (default
docs/results/lstm_step_cost.json).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

from pipelines import cli


def _grid(values):
    return [tuple(int(x) for x in pair.split("x")) for pair in values.split(",")]


def run(output, *, grid=((64, 96),), words=120, repeats=7, vocabulary_size=20000, num_classes=90, command=""):
    """Times the exported students and writes the results file; returns its dict."""
    import keras
    import numpy as np

    from components.base import write_json
    from kdkeras import models
    from kdkeras.predict import make_interpreter
    from kdkeras.text import WordTokenizer
    from kdkeras.tflite import export_tflite

    files, rows = {}, {}
    # Only the export's signature needs a tokenizer: the fused reg-LSTM takes any ids.
    tokenizer = WordTokenizer.adapt(["a document of a few words"], sequence_length=words)
    with tempfile.TemporaryDirectory() as tmp:
        for embedding_dim, hidden_dim in grid:
            keras.utils.set_random_seed(0)
            student = models.build_student("lstm", vocabulary_size, num_classes, embedding_dim=embedding_dim,
                                           hidden_dim=hidden_dim)
            for quantization in (None, "dynamic"):
                key = f"E{embedding_dim}_H{hidden_dim}_{quantization or 'float'}"
                path = export_tflite(student, tokenizer, True, os.path.join(tmp, key + ".tflite"),
                                     quantization=quantization)
                files[key] = make_interpreter(path, num_threads=1)
                rows[key] = {"embedding_dim": embedding_dim, "hidden_dim": hidden_dim,
                             "quantization": quantization or "float32", "bytes": os.path.getsize(path),
                             "macs_per_step": 2 * 4 * hidden_dim * (embedding_dim + hidden_dim)}
        rng = np.random.default_rng(0)
        documents = {n: rng.integers(1, vocabulary_size, size=(1, n)).astype("int32") for n in (1, words)}
        times = {key: {n: [] for n in documents} for key in files}
        for r in range(repeats):
            for key, interpreter in files.items():
                index = interpreter.get_input_details()[0]["index"]
                for n, ids in documents.items():
                    interpreter.resize_tensor_input(index, [1, n], strict=True)
                    interpreter.allocate_tensors()
                    interpreter.set_tensor(index, ids)
                    interpreter.invoke()  # warm-up of this shape
                    calls = max(3, 300 // n)
                    started = time.perf_counter()
                    for _ in range(calls):
                        interpreter.reset_all_variables()
                        interpreter.invoke()
                    times[key][n].append(1000 * (time.perf_counter() - started) / calls)
            print(f"repeat {r + 1}/{repeats} done", flush=True)
    for key, row in rows.items():
        one, many = (statistics.median(times[key][n]) for n in (1, words))
        step_us = 1000 * (many - one) / (words - 1)
        row.update(ms_one_word=round(one, 4), ms_document=round(many, 4), us_per_step=round(step_us, 2),
                   gflops_per_step=round(2 * row["macs_per_step"] / (step_us * 1e3), 1))
    result = {"words": words, "vocabulary_size": vocabulary_size, "num_classes": num_classes,
              "repeats": repeats, "threads": 1, "models": rows, "cpu_count": os.cpu_count(),
              "load_average_end": [round(x, 2) for x in os.getloadavg()], "command": command}
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    write_json(output, result)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pipelines.benchmark_lstm", description=__doc__.split("\n\n")[0])
    p.add_argument("--grid", type=_grid, default=_grid("64x96,16x96,64x80,64x64,64x32"),
                   help="word-vector x hidden sizes, comma-separated (default: 64x96,16x96,64x80,64x64,64x32)")
    p.add_argument("--words", type=int, default=120, help="words of the timed document (the quick profile's 120)")
    p.add_argument("--repeats", type=int, default=7, help="timing rounds (medians reported)")
    p.add_argument("--output", default=os.path.join("docs", "results", "lstm_step_cost.json"))
    cli.add_verbose(p)
    args = p.parse_args(argv)
    if args.words < 2:
        p.error("--words must be at least 2")
    cli.quiet_console(args)
    result = run(args.output, grid=args.grid, words=args.words, repeats=args.repeats,
                 command=cli.command_line("pipelines.benchmark_lstm", argv))
    for key, row in result["models"].items():
        print(f"{key:>20}: {row['ms_document']:.3f} ms per {args.words}-word document, "
              f"{row['us_per_step']:.2f} us per step, {row['gflops_per_step']:.1f} GFLOP/s, {row['bytes']:,} bytes")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
