"""Export of students to TensorFlow Lite (builtin ops only, probabilities out).

TFLite has no string ops without the Flex delegate (which neither `tf.lite`
nor `ai-edge-litert` ship), so the `.tflite` holds the student and its output
activation only; tokenisation runs beside it with
`kdkeras.runtime.NumpyTokenizer` (NumPy only), reading the tokenizer files of
the serving bundle (see `kdkeras.predict.write_serving_assets`).
"""

import os
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from kdkeras.models import reg_lstm

QUANTIZATIONS = (None, "dynamic", "int8")
# Ops of an L2 normalisation (Keras' UnitNormalization converts to SQUARE, SUM,
# MINIMUM, RSQRT, MUL) that "int8" keeps in float32 for tf-idf students.
_NORM_OPS = ("SQUARE", "SUM", "RSQRT", "SQRT", "MINIMUM", "MAXIMUM", "MUL", "DIV", "L2_NORMALIZATION")


def input_spec(tokenizer):
    """The fixed batch-1 input of a student's `.tflite`: ids `[1, sequence_length]` or tf-idf `[1, vocab]`.

    Example:
    >>> input_spec(WordTokenizer.adapt(texts, sequence_length=400))
    TensorSpec(shape=(1, 400), dtype=tf.int32, name='token_ids')
    """
    if tokenizer.output_mode == "int":
        return tf.TensorSpec([1, tokenizer.sequence_length], tf.int32, name="token_ids")
    return tf.TensorSpec([1, tokenizer.vocabulary_size], tf.float32, name="tf_idf")


def fixed_length_features(tokenizer, texts):
    """Tokenizer features padded (with 0) to the fixed `.tflite` input width, as NumPy.

    The same rows `kdkeras.runtime.NumpyTokenizer(texts, length=sequence_length)`
    makes on device, computed with the Keras tokenizer.

    Example:
    >>> fixed_length_features(tokenizer, ["oil prices rose"]).shape
    (1, 400)
    """
    features = np.asarray(tokenizer(tf.constant(list(texts))))
    if tokenizer.output_mode == "int":
        features = np.pad(features, ((0, 0), (0, tokenizer.sequence_length - features.shape[1])))
    return features


def _is_recurrent(model):
    return any(isinstance(layer, keras.layers.RNN) for layer in model._flatten_layers(recursive=True))


def fused_twin_supported(student):
    """Whether `student` is a reg-LSTM that `fused_twin` can rebuild (plain LSTM cells, the usual layers)."""
    try:
        layers = [student.get_layer(name) for name in reg_lstm.LAYER_NAMES]
    except ValueError:
        return False
    bilstm = layers[1]
    if not isinstance(bilstm, keras.layers.Bidirectional) or bilstm.merge_mode != "concat":
        return False
    cells = [bilstm.forward_layer.cell, bilstm.backward_layer.cell]
    return all(isinstance(c, keras.layers.LSTMCell) and c.use_bias and c.activation is keras.activations.tanh
               and c.recurrent_activation is keras.activations.sigmoid for c in cells)


def fused_twin(student, activation):
    """The reg-LSTM's inference graph with TFLite-fusable LSTM layers and any number of words.

    TFLite runs an LSTM fast as one fused `UNIDIRECTIONAL_SEQUENCE_LSTM` op;
    its converter emits that op for Keras 2 (`tf_keras`) LSTM layers only,
    and a slow per-time-step `WHILE` loop for Keras 3 ones. The twin is the
    student rebuilt from `tf_keras` layers with the student's weights
    (embedding → BiLSTM → ReLU → max over time → dense → `activation`), for
    one document of any length `[1, T]`: fed the document's ids without
    padding, it needs no mask and computes what the masked student computes
    on the padded document. A document without words is fed as `[[0]]`:
    steps holding id 0 are zeroed before the max, as the student's mask
    does, so it gets the student's output for an empty document. Dropout,
    embedding dropout and weight drop are training-only and absent.

    Args:
        student: a reg-LSTM (`fused_twin_supported(student)`).
        activation: output activation (`tf.sigmoid` or `tf.nn.softmax`).

    Returns:
        A `tf_keras.Model` mapping int32 ids `[1, T]` to probabilities.
    """
    import tf_keras  # noqa: PLC0415 (only for this export)

    embedding, bilstm, dense = (student.get_layer(name) for name in reg_lstm.LAYER_NAMES)
    vocabulary_size, embedding_dim = embedding.embeddings.shape
    units = bilstm.forward_layer.cell.units
    ids = tf_keras.Input(shape=(None,), batch_size=1, dtype="int32", name="token_ids")
    twin_embedding = tf_keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")
    twin_bilstm = tf_keras.layers.Bidirectional(tf_keras.layers.LSTM(units, return_sequences=True), name="bilstm")
    twin_dense = tf_keras.layers.Dense(dense.units, name="logits")
    states = twin_bilstm(twin_embedding(ids))
    keep = tf.expand_dims(tf.cast(tf.not_equal(ids, 0), states.dtype), -1)
    features = tf.reduce_max(tf.nn.relu(states) * keep, axis=1)
    twin = tf_keras.Model(ids, activation(twin_dense(features)), name=f"{student.name}_fused")
    twin_embedding.set_weights([np.asarray(embedding.embeddings)])
    twin_bilstm.forward_layer.set_weights([np.asarray(w) for w in bilstm.forward_layer.cell.weights])
    twin_bilstm.backward_layer.set_weights([np.asarray(w) for w in bilstm.backward_layer.cell.weights])
    twin_dense.set_weights([np.asarray(w) for w in dense.weights])
    return twin


# The tf-idf LR's layers, as `kdkeras.models.build_tfidf_lr` names them.
_TFIDF_LR_LAYERS = ("l2_normalise", "logits")


class SparseLinear(tf.Module):
    """The tf-idf LR on a document's distinct terms: `(term_ids, term_weights)` `[1, T]` → probabilities.

    Computes what the LR computes on the vocabulary-wide tf-idf vector that
    has `term_weights` at `term_ids` and zeros elsewhere: the weights are L2
    normalised (`x / max(‖x‖, 1e-12)`, Keras' `UnitNormalization`), the
    kernel rows of the terms are gathered and summed with those weights, the
    bias is added and `activation` applied. Its cost is proportional to the
    document's number of distinct terms, not to the vocabulary. A document
    without words is `term_ids=[[0]]`, `term_weights=[[0.0]]` (probabilities of
    the bias alone, as for the all-zero vector).
    """

    def __init__(self, kernel, bias, activation):
        super().__init__()
        self.kernel = tf.Variable(kernel, trainable=False, name="kernel")
        self.bias = tf.Variable(bias, trainable=False, name="bias")
        self._activation = activation

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32, name="term_ids"),
                                  tf.TensorSpec([1, None], tf.float32, name="term_weights")])
    def serve(self, term_ids, term_weights):
        scale = tf.math.rsqrt(tf.maximum(tf.reduce_sum(tf.square(term_weights), axis=-1, keepdims=True), 1e-24))
        rows = tf.gather(self.kernel, term_ids)  # [1, T, C]
        # A batched [1, T] x [T, C] product: BATCH_MATMUL reads the gathered rows as they are; a 2-D matmul
        # converts to FULLY_CONNECTED, which needs them transposed first (a TRANSPOSE op, ~2x the time).
        logits = tf.squeeze(tf.matmul((term_weights * scale)[:, None, :], rows), 1) + self.bias
        return {"probabilities": self._activation(logits)}


def sparse_linear_model(student, activation):
    """`SparseLinear` with the kernel and bias of a tf-idf LR student (`kdkeras.models.build_tfidf_lr`)."""
    try:
        dense = student.get_layer(_TFIDF_LR_LAYERS[1])
        student.get_layer(_TFIDF_LR_LAYERS[0])
    except ValueError:
        raise ValueError(f"{student.name}: sparse_input needs the tf-idf LR layout (UnitNormalization → Dense)") from None
    kernel, bias = (np.asarray(w) for w in dense.weights)
    return SparseLinear(kernel, bias, activation)


def _converter(saved_model_dir, quantization, signature_keys=None):
    """A TFLite converter of a SavedModel (builtin ops; weights int8 unless `quantization` is None).

    Every export goes through a SavedModel: `from_concrete_functions` can silently drop weights.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=signature_keys)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter


def convert_module(module, quantization=None):
    """The `.tflite` bytes of a `tf.Module` whose `serve` method is a `tf.function` with an input signature.

    Builtin ops only, through a SavedModel like every export here.

    Args:
        module: the `tf.Module`.
        quantization: None (float32) or `"dynamic"` (int8 weights).

    Example:

    >>> class Double(tf.Module):
    ...     @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    ...     def serve(self, x):
    ...         return {"y": 2.0 * x}
    >>> flatbuffer = convert_module(Double())
    """
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"serve": module.serve})
        return _converter(tmp, quantization, ["serve"]).convert()


def _convert_sparse_linear(student, activation, quantization):
    return convert_module(sparse_linear_model(student, activation), quantization)


def _convert_fused(student, activation, quantization):
    twin = fused_twin(student, activation)
    with tempfile.TemporaryDirectory() as tmp:
        twin.save(tmp, save_format="tf")
        return _converter(tmp, quantization).convert()


def _convert_student(student, tokenizer, activation, quantization, representative_texts, num_representative):
    """The student itself on its fixed `[1, N]` input, calibrated for `"int8"`."""
    spec = input_spec(tokenizer)
    with tempfile.TemporaryDirectory() as tmp:
        archive = keras.export.ExportArchive()
        archive.track(student)

        @tf.function(input_signature=[spec])
        def serve(features):
            logits = student(features, training=False)
            if tokenizer.output_mode == "tf_idf":
                # A text without words is an all-zero vector. XNNPACK, TFLite's default CPU delegate,
                # returns NaN for the L2 normalisation of a zero vector (Keras and the builtin kernels
                # do not); the student's output for it is constant-folded here and selected instead.
                empty = tf.reduce_all(tf.equal(features, 0.0), axis=-1, keepdims=True)
                logits = tf.where(empty, student(tf.zeros_like(features), training=False), logits)
            return {"probabilities": activation(logits)}

        archive.add_endpoint("serve", serve)
        archive.write_out(tmp, verbose=False)
        converter = _converter(tmp, quantization, ["serve"])
        if quantization != "int8":
            return converter.convert()
        texts = list(representative_texts)
        texts = texts[:: max(1, len(texts) // num_representative)][:num_representative]  # spread out
        features = fixed_length_features(tokenizer, texts)
        dtype = spec.dtype.as_numpy_dtype

        def representative_dataset():
            for row in features:
                yield [row[None].astype(dtype)]

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        if tokenizer.output_mode != "tf_idf":
            return converter.convert()
        # Selective quantisation: the L2 norm of the unbounded tf-idf vector stays float32.
        with warnings.catch_warnings():  # the debugger runs tf.lite.Interpreter, which warns it is deprecated
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter,
                debug_dataset=representative_dataset,
                debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(_NORM_OPS)),
            )
            return debugger.get_nondebug_quantized_model()


def export_tflite(student, tokenizer, multi_label, path, quantization=None, representative_texts=None,
                  num_representative=200, sparse_input=True):
    """Writes a `.tflite` mapping one document's features to class probabilities.

    The graph is the student followed by a sigmoid (`multi_label=True`) or a
    softmax, so, like `kdkeras.export.export_saved_model`, it returns
    probabilities and the caller never has to know which activation the
    student was trained with. It uses TFLite builtin ops only, and has a fixed
    input shape: `[1, sequence_length]` int32 word ids (pad with 0) for
    `"int"` tokenizers, `[1, vocabulary_size]` float32 tf-idf for `"tf_idf"`
    ones; the batch dimension is fixed at 1 because the BiLSTM converts to
    builtin ops only with a static batch size.

    Padding: the reg-LSTM masks id 0 and KimCNN zeroes the vectors of id 0
    (with an all-zero window always present), so neither student's
    probabilities depend on how much padding follows a document: padding
    to `sequence_length` here gives what Keras gives on the bare document.

    Quantisation:
        - `None`: float32 weights and activations.
        - `"dynamic"`: dynamic-range quantisation: int8 weights, float
          activations (quantised on the fly for matmuls). No calibration
          data; about 4× smaller. Works for every student.
        - `"int8"`: integer weights and activations, calibrated on
          `representative_texts` (tokenised with `tokenizer` and padded as at
          serving time). The model input and output stay int32/float32 (the
          converter adds quantise/dequantise ops at the ends): word ids are
          indices for the embedding gather, not values to quantise, and
          float tf-idf inputs and probabilities keep one runtime for every
          variant. Two exceptions:
          tf-idf students keep the L2 normalisation of their input in
          float32 and quantise the dense layer only (selective quantisation):
          tf-idf values are unbounded (count × idf), so an int8 sum of
          squares has a step larger than a typical document's norm; fully
          int8, an LR on Reuters matched the float label sets on 40% of test
          documents, selectively on 99.4%.
          Recurrent students (the reg-LSTM) raise `ValueError`: their
          `WHILE` loop crashes the TFLite calibrator (segfault,
          tensorflow/tensorflow#75140, still in TF 2.21), and `unroll=True`
          is no way out (Keras' unrolled backward pass treats padding
          differently from the masked loop). Use `"dynamic"` for them.

    Args:
        student: Keras model mapping features (the tokenizer's output) to logits.
        tokenizer: the `kdkeras.text.WordTokenizer` the student was trained with.
        multi_label: sigmoid (True) or softmax (False) outputs.
        path: output `.tflite` file.
        quantization: `None`, `"dynamic"` or `"int8"`.
        representative_texts: documents for the `"int8"` calibration.
        num_representative: at most this many of them (evenly spaced) are used.
        sparse_input: tf-idf students (the LR): take the document's distinct terms
            (`term_ids`, `term_weights`, `[1, T]` each, see `sparse_linear_model`)
            instead of a vocabulary-wide vector (False).

    Returns:
        `path`.

    Example:
    >>> export_tflite(student, tokenizer, True, "bundle/model.tflite", quantization="dynamic")
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "int8":
        if _is_recurrent(student):
            raise ValueError(
                f"quantization='int8' is not supported for recurrent students ({student.name}): the TFLite "
                "calibrator crashes on their WHILE loop (tensorflow/tensorflow#75140); use quantization='dynamic'"
            )
        if representative_texts is None or len(representative_texts) == 0:
            raise ValueError("quantization='int8' needs representative_texts for calibration")
    activation = tf.sigmoid if multi_label else tf.nn.softmax
    if _is_recurrent(student) and fused_twin_supported(student):
        flatbuffer = _convert_fused(student, activation, quantization)
    elif tokenizer.output_mode == "tf_idf" and sparse_input:
        if quantization == "int8":
            raise ValueError("quantization='int8' is not supported with sparse_input (a gather and a weighted sum "
                             "have no activations worth quantising); use quantization='dynamic'")
        flatbuffer = _convert_sparse_linear(student, activation, quantization)
    else:
        flatbuffer = _convert_student(student, tokenizer, activation, quantization, representative_texts,
                                      num_representative)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return path
