"""Exporter: serving bundles (SavedModel on raw text, TFLite float/int8) with a model card."""

import os
import time

import numpy as np

from components.artifacts import FORMATS, FORMATS_FILE, MODEL_CARD_FILE, load_schema, load_student, read_split
from components.base import Component, ComponentSpec, write_json
from kdkeras import batches, export, metrics, predict, tflite



def _size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def _latency_ms(predictor, texts):
    predictor.predict_proba(texts[:5])  # warm-up
    timings = []
    for text in texts:
        started = time.perf_counter()
        predictor.predict_proba([text])
        timings.append(time.perf_counter() - started)
    return 1000 * float(np.median(timings))


class Exporter(Component):
    """Writes a serving bundle per student under `<student>/`.

    Each bundle holds `saved_model/` (`serving_default`: a batch of raw
    strings → probabilities, tokenisation inside the graph),
    `model.tflite` (float32), `model_int8.tflite` (dynamic-range quantised)
    and, where it keeps the float model's decisions on at least
    `min_agreement` of the test documents, `model_full_int8.tflite`
    (integer activations, calibrated on training documents; the reg-LSTM has
    none: TFLite's calibrator cannot run its loop). The `.tflite` files
    take word ids or tf-idf values; `tokenizer/`, `labels.txt` and
    `serving.json` beside them let `kdkeras.predict` (and a device) tokenise
    exactly like Keras. `model_card.md` lists data, scores, sizes, latency,
    labels, intended use and limits; `formats.json` has the numbers.

    Inputs:
        examples: the ExampleGen artifact (labels, test documents).
        students: `{name: StudentTrainer artifact}`.
        evaluation: optional Evaluator artifact (scores for the model card).

    Parameters:
        tflite: also write the `.tflite` files.
        max_docs: test documents used to compare formats with Keras.
        latency_docs: documents timed one at a time (batch 1).
        min_agreement: share of test documents whose predicted labels must
            match the Keras model for the full-integer model to be kept.
    """

    SPEC = ComponentSpec(
        inputs=("examples", "students"),
        optional_inputs=("evaluation",),
        parameters=dict(tflite=True, max_docs=1000, latency_docs=50, min_agreement=0.99),
        description="serving bundles: SavedModel, TFLite, model card",
    )

    def execute(self, inputs, output_dir, work_dir):
        p = self.parameters
        schema = load_schema(inputs["examples"])
        multi_label = schema["multi_label"]
        test, _ = read_split(inputs["examples"], "test")
        train, _ = read_split(inputs["examples"], "train")
        texts, labels = test.texts[: p["max_docs"]], test.labels[: p["max_docs"]]
        scores = inputs["evaluation"].metadata["results"]["models"] if "evaluation" in inputs else {}
        exported, formats = {}, {}
        for name, artifact in inputs["students"].items():
            student, tokenizer = load_student(artifact)
            bundle = os.path.join(output_dir, name)
            export.export_saved_model(student, tokenizer, multi_label, os.path.join(bundle, FORMATS["saved_model"]))
            predict.write_serving_assets(bundle, tokenizer, schema["label_names"], multi_label)
            full_probs = _probabilities(student, tokenizer, test.texts, multi_label)  # the headline: all of test
            keras_probs = full_probs[: len(texts)]
            rows = {"keras": {"test": _score(labels, keras_probs, multi_label),
                              "test_all": _score(test.labels, full_probs, multi_label),
                              "test_documents": len(test.texts)}}
            if multi_label:  # the decisions the bundle serves: at least the most probable label per document
                rows["keras"]["test_all_served"] = _served_score(test.labels, full_probs)
            paths = [("saved_model", None)]
            if p["tflite"]:
                paths += [("tflite", None), ("tflite_int8", "dynamic"), ("tflite_full_int8", "int8")]
            for fmt, quantization in paths:
                path = os.path.join(bundle, FORMATS[fmt])
                if fmt != "saved_model":
                    try:
                        tflite.export_tflite(student, tokenizer, multi_label, path, quantization=quantization,
                                             representative_texts=train.texts)
                    except ValueError as e:  # full-integer quantisation unsupported for this student
                        rows[fmt] = {"skipped": str(e).splitlines()[0]}
                        continue
                try:
                    predictor = predict.Predictor.load(path, num_threads=1)
                    probs = predictor.predict_proba(texts)
                except RuntimeError as e:  # e.g. a full-integer division whose divisor quantises to zero
                    if quantization is None:
                        raise
                    os.remove(path)
                    rows[fmt] = {"skipped": f"fails at run time: {str(e).splitlines()[0]}"}
                    self.log(f"{name} {fmt}: skipped, {rows[fmt]['skipped']}")
                    continue
                agreement = _agreement(predictor, probs, keras_probs)
                row = {
                    "file": FORMATS[fmt], "bytes": _size(path), "agreement_with_keras": agreement,
                    "max_abs_diff": float(np.abs(probs - keras_probs).max()),
                    "test": _score(labels, probs, multi_label),
                    "latency_ms_batch1_1thread": _latency_ms(predictor, texts[: p["latency_docs"]]),
                }
                if fmt == "tflite_full_int8" and agreement < p["min_agreement"]:
                    os.remove(path)
                    row = {"skipped": f"agreement with Keras {agreement:.3f} < {p['min_agreement']}", **row}
                rows[fmt] = row
                self.log(f"{name} {fmt}: {row.get('bytes', 0) / 1e6:.2f} MB, "
                         f"agreement {agreement:.4f}, test {row['test']:.2f} on the first {len(texts):,} test documents, "
                         f"{row['latency_ms_batch1_1thread']:.3f} ms/doc")
            write_json(os.path.join(bundle, FORMATS_FILE), rows)
            _write_model_card(os.path.join(bundle, MODEL_CARD_FILE), name, schema, rows, scores,
                              student.count_params(), len(texts), _training(artifact, name.startswith("kd_")),
                              artifact.metadata["results"].get("dev_score"))
            exported[name] = os.path.relpath(os.path.join(bundle, FORMATS["saved_model"]), output_dir)
            formats[name] = rows
        return {"saved_models": exported, "formats": formats}


def _probabilities(student, tokenizer, texts, multi_label):
    logits = batches.predict_logits(student, tokenizer, texts, 256)
    return 1 / (1 + np.exp(-logits)) if multi_label else _softmax(logits)


def _score(labels, probabilities, multi_label):
    # metrics.score thresholds logits at 0: p > 0.5 is p - 0.5 > 0; the argmax is the same either way.
    return metrics.score(labels, probabilities - 0.5 if multi_label else probabilities, multi_label)


def _served_score(labels, probabilities):
    """Micro-F1 (%) of the label sets the bundle serves (`kdkeras.metrics.label_sets`)."""
    return metrics.served_score(labels, probabilities - 0.5, True)


def _softmax(logits):
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _agreement(predictor, probs, reference):
    """Share of documents whose predicted label sets are identical."""
    same = [predictor.decide(a) == predictor.decide(b) for a, b in zip(probs, reference)]
    return float(np.mean(same))


def _training(artifact, as_distilled=False):
    """One sentence on how a student artifact was trained (distilled or not, λ, data, updates)."""
    parameters, results = artifact.metadata["parameters"], artifact.metadata.get("results", {})
    data = "the transfer set" if "transfer_set" in artifact.metadata.get("inputs", {}) else "the train split"
    records = f" ({results['train_records']:,} records)" if "train_records" in results else ""
    how = ("solved exactly (convex; L2 chosen on dev)" if results.get("fit") == "exact"
           else f"{results['updates']:,} optimizer updates" if "updates" in results else "")
    if parameters.get("distill") and parameters.get("alpha", 0) > 0:
        what = (f"Distilled from the teacher: labels + λ·KL(teacher ‖ student) with λ = {parameters['alpha']:g}, "
                f"on {data}{records}")
    else:
        what = (f"Trained on the labels only, on {data}{records}"
                + (" (not distilled: λ = 0 scored best on dev among the distillation weights tried)"
                   if as_distilled else ""))
    return what + (f", {how}." if how else ".")


def _write_model_card(path, name, schema, rows, scores, params, n_docs, training="", dev=None):
    metric = schema["metric"]
    score = scores.get(name, {})
    keras_row = rows["keras"]
    headline = (f"**Test {metric}: {keras_row['test_all']:.2f} %** on all {keras_row['test_documents']:,} test "
                f"documents (this model, Keras)" + (f"; dev {dev:.2f} %, the score it was selected by." if dev
                                                     is not None else "."))
    if "test_all_served" in keras_row:
        headline += (f" Scored on the label sets the bundle serves (`kdkeras.predict` gives every document at least "
                     f"its most probable label; the metric above, the paper's, thresholds at 0.5 only): "
                     f"{keras_row['test_all_served']:.2f} %.")
    seeds = len(score.get("test_runs", []))
    if seeds > 1:
        headline += (f" The same recipe over {seeds} seeds: test {score['test_mean']:.2f} ± {score['test_std']:.2f}, "
                     f"dev {score['dev_mean']:.2f} ± {score['dev_std']:.2f} (mean ± std; this model is the first).")
    lines = [
        f"# Model card: {name} ({schema['dataset']})",
        "",
        "## Model",
        f"A student document classifier "
        f"({name.removeprefix('kd_')}), {params:,} parameters, "
        f"{'multi-label (sigmoid per label, threshold 0.5)' if schema['multi_label'] else 'single-label (softmax)'}. "
        "Input: raw English text (SavedModel) or word ids / tf-idf values from the bundled tokenizer (TFLite).",
        "",
        "## Training",
        training,
        "",
        "## Data",
        f"Dataset `{schema['dataset']}`: " + ", ".join(f"{k} {v:,}" for k, v in schema["rows"].items())
        + f" documents, {schema['num_classes']} labels.",
        "",
        "## Metrics",
        headline,
        "",
        f"Each format below is scored on the first {n_docs:,} test documents only (so the Keras row differs from "
        "the headline), where it is also compared with the Keras model.",
        "",
        f"| format | file | size (MB) | test {metric}, first {n_docs:,} test docs | agreement with Keras "
        "| latency (ms/doc, batch 1, 1 thread) |",
        "|---|---|---:|---:|---:|---:|",
        f"| Keras | student.keras | — | {rows['keras']['test']:.2f} | 1.0000 | — |",
    ]
    for fmt, row in rows.items():
        if fmt == "keras":
            continue
        if "bytes" not in row:
            lines.append(f"| {fmt} | — | — | — | — | skipped: {row['skipped']} |")
            continue
        note = " (not kept)" if "skipped" in row else ""
        lines.append(f"| {fmt}{note} | {row['file']} | {row['bytes'] / 1e6:.2f} | {row['test']:.2f} | "
                     f"{row['agreement_with_keras']:.4f} | {row['latency_ms_batch1_1thread']:.3f} |")
    lines += [
        f"\nFormats compared on the first {n_docs} test documents; agreement = identical predicted label sets.",
        "",
        "## Labels",
        ", ".join(schema["label_names"]),
        "",
        "## Intended use and limits",
        f"Topic/label assignment for documents like those of `{schema['dataset']}` (English, same domain and time). "
        "Not for other languages, domains or label sets without retraining; scores on other data will be lower. "
        "Words outside the training vocabulary are ignored (out-of-vocabulary id); the reg-LSTM and KimCNN read "
        "the first `sequence_length` words only (see tokenizer/tokenizer.json). Quantised models can change a "
        "few decisions (see agreement). Labels inherit the biases of the training annotations.",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
