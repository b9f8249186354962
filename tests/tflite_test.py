"""Keras, SavedModel and TFLite (float and quantised) give the same probabilities."""

import numpy as np
import pytest
import tensorflow as tf

from kdkeras.export import export_saved_model
from kdkeras.runtime import NumpyTokenizer
from kdkeras.tflite import export_tflite, fixed_length_features
from tests.helpers import make_docs, train_toy_student

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # pragma: no cover
    Interpreter = tf.lite.Interpreter

# Stated tolerances of the quantised models against float Keras, on the toy
# test batch: thresholded label sets (or argmax) agree on this share of
# documents, and probabilities differ by at most this much.
TOLERANCE = {None: (0.99, 1e-5), "dynamic": (0.97, 0.05), "int8": (0.95, 0.1)}


def eval_texts():
    texts = [t for _, t in make_docs(200, seed=11)]
    long = " ".join(texts[:4])  # longer than sequence_length: truncated
    return texts + [long, "", "zzz unknown words only", "Crude OIL, barrels; OPEC!"]


def run_sparse_tflite(path, features):
    """Probabilities of each tf-idf row through a sparse-input `.tflite`: its nonzero entries as (ids, weights)."""
    interpreter = Interpreter(model_path=path)
    inputs = {("ids" if "term_ids" in d["name"] else "weights"): d for d in interpreter.get_input_details()}
    (out,) = interpreter.get_output_details()
    assert [list(d["shape_signature"]) for d in inputs.values()] == [[1, -1], [1, -1]]
    rows = []
    for row in features:
        ids = np.flatnonzero(row) if row.any() else np.zeros(1, int)
        for key, value in (("ids", ids.astype("int32")), ("weights", row[ids].astype("float32"))):
            interpreter.resize_tensor_input(inputs[key]["index"], [1, len(ids)], strict=True)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inputs["ids"]["index"], ids.astype("int32")[None])
        interpreter.set_tensor(inputs["weights"]["index"], row[ids].astype("float32")[None])
        interpreter.invoke()
        rows.append(np.array(interpreter.get_tensor(out["index"])[0]))
    return np.stack(rows)


def run_tflite(path, features):
    """Probabilities of each row of `features`; a `[1, T]` model (fused reg-LSTM) gets the row's ids unpadded."""
    interpreter = Interpreter(model_path=path)
    if len(interpreter.get_input_details()) == 2:
        return run_sparse_tflite(path, features)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    any_length = list(inp["shape_signature"]) == [1, -1]
    assert any_length or list(inp["shape"]) == [1, features.shape[1]]
    assert out["dtype"] == np.float32
    rows = []
    for row in features:
        if any_length:
            row = row[row != 0] if (row != 0).any() else row[:1]  # the ids without padding, [0] when none
            interpreter.resize_tensor_input(inp["index"], [1, len(row)], strict=True)
            interpreter.allocate_tensors()
            interpreter.reset_all_variables()  # the fused LSTM's state tensors persist between invocations
        interpreter.set_tensor(inp["index"], row[None].astype(inp["dtype"]))
        interpreter.invoke()
        rows.append(np.array(interpreter.get_tensor(out["index"])[0]))
    return np.stack(rows)


def builtin_op_names(path):
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    with open(path, "rb") as f:
        model = schema.Model.GetRootAs(f.read())
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    return {names[max(c.BuiltinCode(), c.DeprecatedBuiltinCode())] for c in codes}


def agreement(a, b, multi_label=True):
    if multi_label:
        return float(((a > 0.5) == (b > 0.5)).all(axis=1).mean())
    return float((a.argmax(1) == b.argmax(1)).mean())


def check_close(name, got, expected, quantization, multi_label=True):
    share, atol = TOLERANCE[quantization]
    agree, diff = agreement(got, expected, multi_label), float(np.abs(got - expected).max())
    print(f"{name} {quantization or 'float32'}: label agreement {agree:.3f}, max |Δp| {diff:.2e}")
    assert agree >= share and diff <= atol, (name, quantization, agree, diff)


# The fused reg-LSTM converts slowly (about a minute on a busy machine): `make test-all` only.
@pytest.mark.parametrize("name, hparams", [
    ("lr", ()), ("kimcnn", ()), ("boe", ()), ("boe", (("word_weights", True),)),
    pytest.param("lstm", (), marks=pytest.mark.slow)])
def test_keras_saved_model_and_tflite_agree(name, hparams, tmp_path):
    student, tokenizer, _ = train_toy_student(name, hparams=hparams)
    texts = eval_texts()
    fixed = fixed_length_features(tokenizer, texts)
    keras_probs = tf.sigmoid(student(fixed, training=False)).numpy()
    assert keras_probs.std() > 0.05  # trained: not a constant output

    # Each document alone, without padding, as Keras sees a batch of one.
    unpadded = np.concatenate([tf.sigmoid(student(np.asarray(tokenizer(tf.constant([t]))), training=False))
                               for t in texts[:30]])
    padding_effect = float(np.abs(unpadded - keras_probs[:30]).max())
    print(f"{name}: max |Δp| from padding to sequence_length {padding_effect:.2e}")
    assert padding_effect < 1e-5  # masked (lstm), zeroed padding (kimcnn) or fixed width (lr)

    export_saved_model(student, tokenizer, True, str(tmp_path / "saved_model"))
    serve = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serving_default"]
    saved_probs = serve(texts=tf.constant(texts))["probabilities"].numpy()
    check_close(name + " saved_model", saved_probs, keras_probs, None)
    # Padding to sequence_length makes a text's probabilities independent of its batch.
    alone = serve(texts=tf.constant(texts[-1:]))["probabilities"].numpy()
    np.testing.assert_allclose(alone, saved_probs[-1:], atol=1e-6)

    # The on-device path: NumpyTokenizer features into the .tflite.
    tokenizer.save(str(tmp_path / "tokenizer"))
    numpy_tok = NumpyTokenizer.load(str(tmp_path / "tokenizer"))
    features = numpy_tok(texts, length=tokenizer.sequence_length)
    np.testing.assert_array_equal(features, fixed)
    float_path = export_tflite(student, tokenizer, True, str(tmp_path / "float.tflite"))
    ops = builtin_op_names(float_path)
    assert "CUSTOM" not in ops and "LOGISTIC" in ops, ops  # builtin ops only, sigmoid inside
    if name == "lstm":  # one fused op per direction, no per-time-step loop
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops and "WHILE" not in ops, ops
    float_probs = run_tflite(float_path, features)
    check_close(name + " tflite", float_probs, keras_probs, None)

    if name == "lr":  # one gather of the document's terms, no vocabulary-wide vector
        assert "GATHER" in ops and len(Interpreter(model_path=float_path).get_input_details()) == 2, ops
        assert "TRANSPOSE" not in ops, ops  # the gathered rows are multiplied as they are
    quantizations = ["dynamic"] + (["int8"] if name == "kimcnn" else [])
    for quantization in quantizations:
        path = export_tflite(student, tokenizer, True, str(tmp_path / f"{quantization}.tflite"),
                             quantization=quantization, representative_texts=train_toy_student(name)[2])
        check_close(name + " tflite", run_tflite(path, features), keras_probs, quantization)
    if name == "lr":  # the vocabulary-wide layout stays available, full-integer included
        for quantization in (None, "dynamic", "int8"):
            path = export_tflite(student, tokenizer, True, str(tmp_path / f"dense_{quantization}.tflite"),
                                 quantization=quantization, representative_texts=train_toy_student(name)[2],
                                 sparse_input=False)
            check_close(name + " dense tflite", run_tflite(path, features), keras_probs, quantization)


def test_single_label_softmax_in_tflite(tmp_path):
    student, tokenizer, texts = train_toy_student("kimcnn", multi_label=False)
    test = [t for _, t in make_docs(100, seed=12, multi_label=False)]
    fixed = fixed_length_features(tokenizer, test)
    keras_probs = tf.nn.softmax(student(fixed, training=False)).numpy()
    path = export_tflite(student, tokenizer, False, str(tmp_path / "m.tflite"))
    assert "SOFTMAX" in builtin_op_names(path)
    probs = run_tflite(path, fixed)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    check_close("kimcnn single-label tflite", probs, keras_probs, None, multi_label=False)
    int8 = export_tflite(student, tokenizer, False, str(tmp_path / "q.tflite"), "int8", representative_texts=texts)
    check_close("kimcnn single-label tflite", run_tflite(int8, fixed), keras_probs, "int8", multi_label=False)


def test_invalid_quantization_requests(tmp_path):
    student, tokenizer, texts = train_toy_student("lstm")
    with pytest.raises(ValueError, match="not supported for recurrent"):
        export_tflite(student, tokenizer, True, str(tmp_path / "m.tflite"), "int8", representative_texts=texts)
    kimcnn, kimcnn_tokenizer, _ = train_toy_student("kimcnn")
    with pytest.raises(ValueError, match="representative_texts"):
        export_tflite(kimcnn, kimcnn_tokenizer, True, str(tmp_path / "m.tflite"), "int8")
    with pytest.raises(ValueError, match="quantization must be"):
        export_tflite(kimcnn, kimcnn_tokenizer, True, str(tmp_path / "m.tflite"), "float16")
