"""Where the reg-LSTM's on-device time goes: `python -m pipelines.benchmark_lstm`.

Builds reg-LSTM students (`kdkeras.models.build_student("lstm", ...)`,
untrained: the time does not depend on the weights) for a grid of word-vector
and hidden sizes, exports each as `kdkeras.tflite.export_tflite` does (two
fused `UNIDIRECTIONAL_SEQUENCE_LSTM` ops on the unpadded document), float32
and dynamic-range int8, and times one document of `--words` words and one of
a single word at batch 1 on one thread. `--unrolled` also times the same
students as a static graph unrolled over the words (one small op per gate
step, which XNNPACK, LiteRT's default CPU delegate, runs for float weights),
the other layout TFLite offers for a recurrence. The difference over the extra words
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


def _unrolled_tflite(student, words, quantization, path):
    """The reg-LSTM on `[1, words]` ids as a graph unrolled over the words, written to `path`.

    Computes what the fused export computes on a document of exactly `words`
    words: embedding, both LSTM directions (gates reordered to i, f, o, g so
    one sigmoid and one tanh cover them), ReLU and max over time (a running
    maximum), dense, sigmoid. The input projection of every word is one
    matmul; each step is a matmul of the state plus elementwise ops.
    """
    import numpy as np
    import tensorflow as tf

    from kdkeras.models import reg_lstm
    from kdkeras.tflite import convert_module

    embedding, bilstm, dense = (student.get_layer(name) for name in reg_lstm.LAYER_NAMES)
    units = bilstm.forward_layer.cell.units
    order = np.concatenate([np.arange(units), np.arange(units, 2 * units), np.arange(3 * units, 4 * units),
                            np.arange(2 * units, 3 * units)])  # Keras' i, f, c, o -> i, f, o, c
    cells = [[np.asarray(w)[..., order] for w in layer.cell.weights]
             for layer in (bilstm.forward_layer, bilstm.backward_layer)]

    class Unrolled(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(np.asarray(embedding.embeddings), trainable=False)
            self.kernel = tf.Variable(np.concatenate([c[0] for c in cells], 1), trainable=False)
            self.bias = tf.Variable(np.concatenate([c[2] for c in cells]), trainable=False)
            self.recurrent = [tf.Variable(c[1], trainable=False) for c in cells]
            self.dense = [tf.Variable(np.asarray(w), trainable=False) for w in dense.weights]

        @tf.function(input_signature=[tf.TensorSpec([1, words], tf.int32, name="token_ids")])
        def serve(self, ids):
            gates = tf.matmul(tf.gather(self.table, ids[0]), self.kernel) + self.bias  # [words, 8H]
            pooled = []
            for direction, recurrent in enumerate(self.recurrent):
                h = c = peak = tf.zeros([1, units])
                for t in range(words) if direction == 0 else reversed(range(words)):
                    z = gates[t:t + 1, 4 * units * direction:4 * units * (direction + 1)] + tf.matmul(h, recurrent)
                    s, g = tf.sigmoid(z[:, :3 * units]), tf.tanh(z[:, 3 * units:])
                    c = s[:, units:2 * units] * c + s[:, :units] * g
                    h = s[:, 2 * units:] * tf.tanh(c)
                    peak = tf.maximum(peak, h)  # max over time of ReLU(h) = running max from 0
                pooled.append(peak)
            return {"probabilities": tf.sigmoid(tf.matmul(tf.concat(pooled, 1), self.dense[0]) + self.dense[1])}

    with open(path, "wb") as f:
        f.write(convert_module(Unrolled(), quantization))
    return path


def run(output, *, grid=((64, 96),), words=120, repeats=7, vocabulary_size=20000, num_classes=90, unrolled=False,
        command=""):
    """Times the exported students and writes the results file; returns its dict."""
    import keras
    import numpy as np

    from components.base import write_json
    from kdkeras import models
    from kdkeras.predict import make_interpreter
    from kdkeras.text import WordTokenizer
    from kdkeras.tflite import export_tflite

    files, rows = {}, {}  # files: {key: {words: interpreter}}
    lengths = (1, words)
    # Only the export's signature needs a tokenizer: the fused reg-LSTM takes any ids.
    tokenizer = WordTokenizer.adapt(["a document of a few words"], sequence_length=words)
    rng = np.random.default_rng(0)
    documents = {n: rng.integers(1, vocabulary_size, size=(1, n)).astype("int32") for n in lengths}
    with tempfile.TemporaryDirectory() as tmp:
        for embedding_dim, hidden_dim in grid:
            keras.utils.set_random_seed(0)
            student = models.build_student("lstm", vocabulary_size, num_classes, embedding_dim=embedding_dim,
                                           hidden_dim=hidden_dim)
            for layout in ("fused", "unrolled") if unrolled else ("fused",):
                for quantization in (None, "dynamic"):
                    key = f"E{embedding_dim}_H{hidden_dim}_{quantization or 'float'}"
                    key += "_unrolled" if layout == "unrolled" else ""
                    if layout == "fused":
                        path = export_tflite(student, tokenizer, True, os.path.join(tmp, key + ".tflite"),
                                             quantization=quantization)
                        paths = {n: path for n in lengths}
                    else:
                        paths = {n: _unrolled_tflite(student, n, quantization, os.path.join(tmp, f"{key}_{n}.tflite"))
                                 for n in lengths}
                    files[key] = {}
                    for n, path in paths.items():
                        interpreter = files[key][n] = make_interpreter(path, num_threads=1)
                        index = interpreter.get_input_details()[0]["index"]
                        interpreter.resize_tensor_input(index, [1, n], strict=True)
                        interpreter.allocate_tensors()
                        interpreter.set_tensor(index, documents[n])
                    rows[key] = {"embedding_dim": embedding_dim, "hidden_dim": hidden_dim, "layout": layout,
                                 "quantization": quantization or "float32", "bytes": os.path.getsize(paths[words]),
                                 "macs_per_step": 2 * 4 * hidden_dim * (embedding_dim + hidden_dim)}
                    print(f"exported {key}", flush=True)
        if unrolled:  # the two layouts compute the same probabilities
            for key, row in rows.items():
                if row["layout"] == "unrolled":
                    fused = files[key[: -len("_unrolled")]][words]
                    outputs = []
                    for interpreter in (files[key][words], fused):
                        interpreter.reset_all_variables()
                        interpreter.invoke()
                        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
                    row["max_abs_difference_to_fused"] = float(np.abs(outputs[0] - outputs[1]).max())
        times = {key: {n: [] for n in lengths} for key in files}
        for r in range(repeats):
            for key, by_length in files.items():
                for n, interpreter in by_length.items():
                    interpreter.invoke()  # warm-up
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
              "repeats": repeats, "threads": 1, "unrolled": unrolled, "models": rows, "cpu_count": os.cpu_count(),
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
    p.add_argument("--unrolled", action="store_true",
                   help="also time each student as a graph unrolled over the words (slow to convert)")
    p.add_argument("--output", default=os.path.join("docs", "results", "lstm_step_cost.json"))
    cli.add_verbose(p)
    args = p.parse_args(argv)
    if args.words < 2:
        p.error("--words must be at least 2")
    cli.quiet_console(args)
    result = run(args.output, grid=args.grid, words=args.words, repeats=args.repeats,
                 unrolled=args.unrolled, command=cli.command_line("pipelines.benchmark_lstm", argv))
    for key, row in result["models"].items():
        print(f"{key:>29}: {row['ms_document']:.3f} ms per {args.words}-word document, "
              f"{row['us_per_step']:.2f} us per step, {row['gflops_per_step']:.1f} GFLOP/s, {row['bytes']:,} bytes")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
