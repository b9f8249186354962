"""Predict labels of raw texts with an exported student (SavedModel or `.tflite`).

    python -m kdkeras.predict PATH "text" ["text" ...] [--top-k K] [--json]
    python -m kdkeras.predict PATH --input FILE|- [--output OUT] [--format jsonl|tsv]

PATH is a SavedModel directory written by `kdkeras.export.export_saved_model`
or a `.tflite` file written by `kdkeras.tflite.export_tflite`. Label names and
settings come from the serving bundle files beside it, written by
`write_serving_assets`:

    bundle/
      saved_model/      SavedModel: raw strings -> probabilities
      model.tflite      optional: features -> probabilities (fixed shape, batch 1)
      labels.txt        one class name per line, in output order
      serving.json      {"multi_label": ..., "threshold": 0.5, ...}
      tokenizer/        vocabulary.txt, [idf.txt,] tokenizer.json (WordTokenizer.save)

The files are looked up in PATH itself (a SavedModel directory may hold them
too) and then in the folder that contains PATH. A `.tflite` runs with
`ai_edge_litert.interpreter.Interpreter` when it is installed, else
`tf.lite.Interpreter`; its text features come from
`kdkeras.runtime.NumpyTokenizer`, so TensorFlow is not imported for it when
LiteRT is available.
"""

import argparse
import json
import os
import sys

import numpy as np

from kdkeras import logs
from kdkeras.metrics import label_sets
from kdkeras.paths import UnsafePathError, safe_join

SERVING_FILE = "serving.json"
LABELS_FILE = "labels.txt"
TOKENIZER_DIR = "tokenizer"
FORMAT = "kdkeras-serving/1"
# The sparse-input LR's terms are padded to a power of two of at least this many (see `tflite_runner`).
_MIN_TERMS = 16


class ServingError(Exception):
    """A model path or serving bundle that cannot be used; the message says why."""


def check_texts(texts):
    """The texts to classify as a list of `str`, or a one-line `TypeError`/`ValueError`.

    Accepts one string, or a list (tuple, 1-D array, any sequence) of
    strings; `bytes` must be UTF-8 and are decoded. Anything else (numbers, None, nested lists) is
    refused, naming the first bad item.

    Example:
    >>> check_texts(["oil prices rose", b"wheat"])
    ['oil prices rose', 'wheat']
    >>> check_texts([1, 2])
    Traceback (most recent call last):
    TypeError: texts[0]: expected a string, got int
    """
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    elif isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(f"texts: expected a 1-D batch of strings, got an array of shape {texts.shape}")
        texts = texts.tolist()
    elif hasattr(texts, "__iter__") and not isinstance(texts, (dict, set, frozenset)):
        texts = list(texts)  # a list, tuple, generator, pandas Series, ...
    else:
        raise TypeError(f"texts: expected a string or a list of strings, got {type(texts).__name__}")
    out = []
    for i, text in enumerate(texts):
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"texts[{i}]: bytes are not valid UTF-8 ({e.reason} at byte {e.start})") from None
        elif not isinstance(text, str):
            raise TypeError(f"texts[{i}]: expected a string, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:  # lone surrogates, e.g. undecodable command-line bytes
            raise ValueError(f"texts[{i}]: not valid UTF-8 text ({e.reason} at character {e.start})") from None
        out.append(str(text))
    return out


def write_serving_assets(directory, tokenizer, label_names, multi_label, threshold=0.5):
    """Writes the files a served student needs beside its SavedModel or `.tflite`.

    Args:
        directory: the bundle folder (created if needed); put the SavedModel
            (e.g. `directory/saved_model`) and/or `.tflite` in it.
        tokenizer: the `kdkeras.text.WordTokenizer` of the student (saved to
            `tokenizer/`; the `.tflite` runtime tokenises with it).
        label_names: class names in the order of the model's outputs.
        multi_label: sigmoid outputs, every label above `threshold` is
            predicted (True); or softmax outputs, the argmax is (False).
        threshold: decision threshold for multi-label outputs.

    Returns:
        `directory`.

    Example:
    >>> export_saved_model(student, tokenizer, True, "bundle/saved_model")
    >>> export_tflite(student, tokenizer, True, "bundle/model.tflite")
    >>> write_serving_assets("bundle", tokenizer, ["acq", "corn", "crude"], multi_label=True)
    """
    label_names = [str(name) for name in label_names]
    if not label_names or any(not name or "\n" in name for name in label_names):
        raise ValueError("label_names must be non-empty, single-line names")
    os.makedirs(directory, exist_ok=True)
    tokenizer.save(os.path.join(directory, TOKENIZER_DIR))
    with open(os.path.join(directory, LABELS_FILE), "w", encoding="utf-8") as f:
        f.write("".join(name + "\n" for name in label_names))
    config = {
        "format": FORMAT,
        "multi_label": bool(multi_label),
        "threshold": float(threshold),
        "num_classes": len(label_names),
        "labels": LABELS_FILE,
        "tokenizer": TOKENIZER_DIR,
        "output": "probabilities",
    }
    with open(os.path.join(directory, SERVING_FILE), "w") as f:
        json.dump(config, f, indent=2)
    return directory


def _find_assets(path):
    """The folder holding `serving.json` for the model at `path`."""
    candidates = [path] if os.path.isdir(path) else []
    candidates.append(os.path.dirname(os.path.abspath(path)))
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, SERVING_FILE)):
            return folder
    raise ServingError(
        f"{path}: no {SERVING_FILE} in {' or '.join(candidates)}; "
        "write the serving bundle with kdkeras.predict.write_serving_assets"
    )


def _bundle_path(folder, config, key, default):
    """A file named in `serving.json`, which must stay inside the bundle folder."""
    try:
        return safe_join(folder, str(config.get(key, default)))
    except UnsafePathError as e:
        raise ServingError(f"{os.path.join(folder, SERVING_FILE)}: {key!r}: {e}") from None


def _read_assets(folder):
    try:
        with open(os.path.join(folder, SERVING_FILE)) as f:
            config = json.load(f)
        if not isinstance(config, dict) or "multi_label" not in config:
            raise ServingError(f"{os.path.join(folder, SERVING_FILE)}: no 'multi_label' setting")
        with open(_bundle_path(folder, config, "labels", LABELS_FILE), encoding="utf-8") as f:
            labels = [line.rstrip("\n") for line in f if line.strip()]
    except (OSError, ValueError) as e:
        raise ServingError(f"{folder}: unreadable serving bundle ({e})") from None
    return config, labels


class Predictor:
    """An exported student with its label names: raw texts in, probabilities and labels out.

    Use `Predictor.load(path)`; `path` is a SavedModel directory or a
    `.tflite` file with the serving bundle files beside it (see the module
    docstring and `write_serving_assets`).

    Example:
    >>> predictor = Predictor.load("bundle/model.tflite")
    >>> predictor.predict(["crude oil prices rose"])
    [[('crude', 0.93)]]
    """

    def __init__(self, probabilities_fn, label_names, multi_label, threshold=0.5, kind=""):
        self._probabilities_fn = probabilities_fn
        self.label_names = list(label_names)
        self.multi_label = bool(multi_label)
        self.threshold = float(threshold)
        self.kind = kind

    @classmethod
    def load(cls, path, num_threads=None):
        """Loads a SavedModel directory or `.tflite` file; raises `ServingError` when it cannot.

        Args:
            path: SavedModel directory or `.tflite` file with its serving bundle.
            num_threads: CPU threads of the `.tflite` interpreter (None: its default).
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise ServingError(f"{path}: no such file or directory")
        if os.path.isdir(path):
            if not os.path.isfile(os.path.join(path, "saved_model.pb")):
                raise ServingError(f"{path}: not a SavedModel directory (no saved_model.pb)")
            kind = "saved_model"
        elif path.endswith(".tflite"):
            kind = "tflite"
        else:
            raise ServingError(f"{path}: expected a SavedModel directory or a .tflite file")
        folder = _find_assets(path)
        config, labels = _read_assets(folder)
        if kind == "saved_model":
            fn = _saved_model_fn(path)
        else:
            fn = _tflite_fn(path, _bundle_path(folder, config, "tokenizer", TOKENIZER_DIR), num_threads)
        predictor = cls(fn, labels, config["multi_label"], config.get("threshold", 0.5), kind)
        # Checks the model against the bundle once, so mismatches fail at load time.
        width = predictor.predict_proba([""]).shape[1]
        if width != len(labels):
            raise ServingError(f"{path}: the model has {width} outputs but {folder} lists {len(labels)} labels")
        return predictor

    def predict_proba(self, texts):
        """Probabilities, float32 `(len(texts), num_labels)`.

        Args:
            texts: a string or a list of strings (UTF-8 `bytes` are decoded).

        Raises:
            TypeError: an item is not a string (a number, None, a list, ...).
            ValueError: bytes or text that are not valid UTF-8.
        """
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, len(self.label_names)), "float32")
        return np.asarray(self._probabilities_fn(texts), "float32")

    def decide(self, probabilities):
        """Indices of the predicted labels of one row of probabilities.

        Multi-label: every label above the threshold, or the most probable one
        when none is; single-label: the argmax.
        """
        probabilities = np.asarray(probabilities)
        on = np.flatnonzero(label_sets(probabilities[None], self.multi_label, self.threshold)[0])
        return [int(i) for i in on[np.argsort(-probabilities[on], kind="stable")]]

    def predict(self, texts, top_k=None):
        """Per text, the predicted `(label, probability)` pairs, most probable first.

        With `top_k`, the `top_k` most probable labels instead, predicted or not.
        `texts` is checked like in `predict_proba` (one-line `TypeError` or
        `ValueError` for anything but strings).
        """
        out = []
        for row in self.predict_proba(texts):
            if top_k:
                chosen = np.argsort(-row, kind="stable")[:top_k]
            else:
                chosen = self.decide(row)
            out.append([(self.label_names[i], float(row[i])) for i in chosen])
        return out


    def predict_file(self, path, output, *, output_format="jsonl", batch_size=256, on_bad_row="raise"):
        """Classifies every document of a file and writes one result per document.

        The input is read like unlabelled text (`kdkeras.data.unlabeled`): one
        document per line, or JSON lines with a `text` field (`.jsonl`),
        gzipped or not; every line is validated before anything is written
        (a bad line is a `DataError` naming the file and line, or is skipped
        with `on_bad_row="skip"`).

        Args:
            path: the input file.
            output: a writable text stream.
            output_format: `"jsonl"` (`{"text", "labels": [{"label", "probability"}]}`)
                or `"tsv"` (`labels<TAB>text`, labels comma-separated).
            batch_size: documents per model call.
            on_bad_row: `"raise"` or `"skip"`.

        Returns:
            `{"documents", "skipped", "seconds", "docs_per_s"}`.

        Example:
        >>> Predictor.load("bundle/model.tflite").predict_file("news.txt", sys.stdout)
        """
        import time  # noqa: PLC0415

        from kdkeras.data.unlabeled import read_unlabeled  # noqa: PLC0415

        if output_format not in ("jsonl", "tsv"):
            raise ValueError(f"output_format must be 'jsonl' or 'tsv', got {output_format!r}")
        texts, skipped = read_unlabeled(path, on_bad_row)
        started = time.perf_counter()
        for start in range(0, len(texts), batch_size):
            batch = texts[start:start + batch_size]
            for text, row in zip(batch, self.predict_proba(batch)):
                chosen = [(self.label_names[i], float(row[i])) for i in self.decide(row)]
                if output_format == "jsonl":
                    record = {"text": text, "labels": [{"label": n, "probability": round(p, 6)} for n, p in chosen]}
                    output.write(json.dumps(record, ensure_ascii=False) + "\n")
                else:
                    output.write(",".join(n for n, _ in chosen) + "\t" + text + "\n")
        seconds = time.perf_counter() - started
        return {"documents": len(texts), "skipped": len(skipped), "seconds": round(seconds, 3),
                "docs_per_s": round(len(texts) / seconds, 1) if seconds > 0 else None}


def _saved_model_fn(path):
    import tensorflow as tf  # noqa: PLC0415 (the .tflite path runs without it)

    try:
        loaded = tf.saved_model.load(path)
        serve = loaded.signatures["serving_default"]
    except Exception as e:  # noqa: BLE001 (any load failure is reported the same way)
        raise ServingError(f"{path}: cannot load the SavedModel ({type(e).__name__}: {str(e)[:300]})") from None

    def probabilities(texts):
        return serve(texts=tf.constant(texts, tf.string))["probabilities"].numpy()

    return probabilities


def make_interpreter(path, num_threads=None):
    """An allocated TFLite interpreter of `path`: LiteRT's (`ai-edge-litert`) when installed, else `tf.lite`'s.

    Raises:
        ServingError: the file is not a usable `.tflite` model.

    Example:
    >>> make_interpreter("bundle/model_int8.tflite", num_threads=1).get_input_details()[0]["shape"]
    array([  1, 120], dtype=int32)
    """
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415
    except ImportError:
        import tensorflow as tf  # noqa: PLC0415

        Interpreter = tf.lite.Interpreter
    try:
        interpreter = Interpreter(model_path=path, num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise ServingError(f"{path}: not a usable .tflite model ({str(e).strip()[:300]})") from None
    return interpreter


def _tflite_fn(path, tokenizer_dir, num_threads=None):
    feed, invoke = tflite_runner(path, tokenizer_dir, num_threads)

    def probabilities(texts):
        return np.stack([invoke(feed(text)) for text in texts])

    return probabilities


def tflite_runner(path, tokenizer_dir, num_threads=None):
    """`(feed, invoke)` of an exported `.tflite`: one document at a time, tokenisation apart from the model.

    `feed(text)` makes the model's inputs from a raw text with the bundle's
    NumPy tokenizer, for each layout `kdkeras.tflite.export_tflite` writes:
    word ids padded to the fixed `[1, sequence_length]`, unpadded ids `[1, T]`
    (the fused reg-LSTM; `[[0]]` for a text without words), or the distinct
    terms `term_ids`, `term_weights` `[1, T]` (the sparse-input LR), padded
    with id 0 and weight 0.0 (which add nothing to the weighted sum or its
    norm) to a power of two of at least 16 terms.
    `invoke(inputs)` runs the model on them and returns its probabilities.
    The sparse LR gets one interpreter per padded width, each allocated
    once, so no document resizes one (there are a handful of widths, and
    resizing costs more than the LR itself). The reg-LSTM's interpreter is
    resized when the length changes, and its state tensors are reset
    before each document, as they would otherwise carry over.

    Raises:
        ServingError: the tokenizer or model cannot be loaded, or they do not fit together.
    """
    from kdkeras.runtime import NumpyTokenizer  # noqa: PLC0415

    try:
        tokenizer = NumpyTokenizer.load(tokenizer_dir)
    except (OSError, ValueError, KeyError) as e:
        raise ServingError(f"{tokenizer_dir}: cannot load the tokenizer ({e})") from None
    interpreter = make_interpreter(path, num_threads)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    feed, stateful = _tflite_feed(path, inputs, outputs, tokenizer)
    output = outputs[0]["index"]
    by_width = {} if len(inputs) == 2 else None  # the sparse LR: {padded width: interpreter sized for it}
    shape = [tuple(inputs[0]["shape"])]  # every input of a layout has the same shape

    def resized(target, feeds):
        for index, value in feeds:
            target.resize_tensor_input(index, list(value.shape), strict=True)
        target.allocate_tensors()
        return target

    def invoke(feeds):
        width = feeds[0][1].shape
        if by_width is not None:
            target = by_width.get(width)
            if target is None:
                fresh = make_interpreter(path, num_threads) if by_width else interpreter
                target = by_width[width] = resized(fresh, feeds)
        else:
            target = interpreter
            if width != shape[0]:
                resized(target, feeds)
                shape[0] = width
            if stateful:
                target.reset_all_variables()
        for index, value in feeds:
            target.set_tensor(index, value)
        target.invoke()
        return target.get_tensor(output)[0]

    return feed, invoke


def _tflite_feed(path, inputs, outputs, tokenizer):
    """`(feed, stateful)` for the model's input layout (see `tflite_runner`); `ServingError` if it has none."""
    if tokenizer.output_mode == "tf_idf" and len(inputs) == 2 and len(outputs) == 1:
        by_name = {name: d for d in inputs for name in ("term_ids", "term_weights") if name in d["name"]}
        if len(by_name) != 2:
            raise ServingError(f"{path}: expected inputs term_ids and term_weights (export_tflite sparse layout)")
        ids_in, weights_in = by_name["term_ids"]["index"], by_name["term_weights"]["index"]

        def terms(text):
            ids, weights = tokenizer.terms(text)
            width = max(_MIN_TERMS, 1 << (len(ids) - 1).bit_length())
            padded_ids, padded_weights = np.zeros((1, width), np.int32), np.zeros((1, width), np.float32)
            padded_ids[0, : len(ids)], padded_weights[0, : len(ids)] = ids, weights
            return [(ids_in, padded_ids), (weights_in, padded_weights)]

        return terms, False
    if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0]["shape"]) != 2 or inputs[0]["shape"][0] != 1:
        raise ServingError(f"{path}: expected one [1, N] input and one output (export_tflite layout)")
    inp = inputs[0]
    width = int(inp["shape"][1])
    if tokenizer.output_mode == "tf_idf" and width != tokenizer.vocabulary_size:
        raise ServingError(
            f"{path}: input width {width} but the tokenizer makes {tokenizer.vocabulary_size} tf-idf values"
        )
    if tokenizer.output_mode == "int" and int(inp.get("shape_signature", inp["shape"])[1]) == -1:
        return (lambda text: [(inp["index"], np.asarray([tokenizer.ids(text) or [0]], inp["dtype"]))]), True
    return (lambda text: [(inp["index"], tokenizer([text], length=width).astype(inp["dtype"]))]), False


def load(path, num_threads=None):
    """`Predictor.load(path)`: a SavedModel directory or `.tflite` file with its serving bundle."""
    return Predictor.load(path, num_threads)


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m kdkeras.predict",
        description="Predict labels of texts with an exported student (SavedModel directory or .tflite file).",
    )
    p.add_argument("path", help="SavedModel directory or .tflite file (serving bundle files beside it)")
    p.add_argument("texts", nargs="*", metavar="text", help="texts to classify")
    p.add_argument("--input", metavar="FILE",
                   help="classify every document of FILE instead (one per line, or .jsonl with 'text'; gzip or not; "
                        "- for standard input, read as JSON lines when its first line is a JSON object)")
    p.add_argument("--output", metavar="FILE", help="with --input: write results here (default: standard output)")
    p.add_argument("--format", choices=["jsonl", "tsv"], default="jsonl", help="with --input: output format")
    p.add_argument("--batch-size", type=int, default=256, help="with --input: documents per model call")
    p.add_argument("--skip-bad-rows", action="store_true", help="with --input: skip and count bad lines")
    p.add_argument("--top-k", type=int, default=0, metavar="K", help="also show the K most probable labels")
    p.add_argument("--json", action="store_true", help="one JSON object per text instead of text lines")
    p.add_argument("--verbose", action="store_true", help="also print TensorFlow and TFLite log lines")
    return p


def main(argv=None):
    """CLI entry point; returns the exit status (2 for a bad path or bundle)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.top_k < 0:
        parser.error("--top-k must be >= 0")
    if bool(args.texts) == bool(args.input):
        parser.error("give texts to classify or --input FILE (not both)")
    logs.quiet_console(verbose=args.verbose)
    if args.input:
        return _predict_file(parser.prog, args)
    try:
        texts = check_texts(args.texts)
        predictor = Predictor.load(args.path)
    except (ServingError, TypeError, ValueError) as e:
        print(f"{parser.prog}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    probabilities = predictor.predict_proba(texts)
    for text, row in zip(args.texts, probabilities):
        labels = [(predictor.label_names[i], float(row[i])) for i in predictor.decide(row)]
        top = [(predictor.label_names[i], float(row[i])) for i in np.argsort(-row, kind="stable")[: args.top_k]]
        if args.json:
            record = {"text": text, "labels": [{"label": n, "probability": round(p, 6)} for n, p in labels]}
            if args.top_k:
                record["top_k"] = [{"label": n, "probability": round(p, 6)} for n, p in top]
            print(json.dumps(record, ensure_ascii=False))
            continue
        print(text)
        print("  labels: " + ", ".join(f"{n} ({p:.3f})" for n, p in labels))
        if args.top_k:
            print(f"  top {args.top_k}: " + ", ".join(f"{n} ({p:.3f})" for n, p in top))
    return 0


def _predict_file(prog, args):
    """`--input FILE`: every document of a file, results to `--output` (written atomically) or stdout."""
    import tempfile  # noqa: PLC0415

    from kdkeras.data.hedwig import BOM, DataError  # noqa: PLC0415

    source, tmp = args.input, None
    try:
        predictor = Predictor.load(args.path)
        if source == "-":  # standard input: spooled to a file, so it is validated before any output
            data = sys.stdin.buffer.read()
            first = next((line for line in data.removeprefix(BOM).splitlines() if line.strip()), b"")
            suffix = ".jsonl" if first.lstrip().startswith(b"{") else ".txt"  # JSON lines when they look like it
            with tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False) as f:
                f.write(data)
            source = tmp = f.name
        on_bad_row = "skip" if args.skip_bad_rows else "raise"
        if args.output:
            partial = args.output + ".tmp"
            with open(partial, "w", encoding="utf-8") as out:
                stats = predictor.predict_file(source, out, output_format=args.format, batch_size=args.batch_size,
                                               on_bad_row=on_bad_row)
            os.replace(partial, args.output)
        else:
            stats = predictor.predict_file(source, sys.stdout, output_format=args.format,
                                           batch_size=args.batch_size, on_bad_row=on_bad_row)
    except (ServingError, DataError, OSError, ValueError) as e:
        message = " ".join(str(e).split()).replace(tmp, "<stdin>") if tmp else " ".join(str(e).split())
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    finally:
        if tmp:
            os.unlink(tmp)
        if args.output and os.path.exists(args.output + ".tmp"):
            os.unlink(args.output + ".tmp")
    skipped = f", {stats['skipped']} bad lines skipped" if stats["skipped"] else ""
    print(f"{prog}: {stats['documents']} documents in {stats['seconds']:.2f} s ({stats['docs_per_s']} docs/s, "
          f"{predictor.kind}){skipped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
