"""TeacherTrainer: fine-tunes the DocBERT teacher and keeps its best dev epoch."""

import os

import keras

from components.artifacts import (
    CURVES_FILE, HISTORY_FILE, PREPROCESSOR_DIR, TEACHER_MODEL_FILE, load_schema, read_split,
)
from components.base import Component, ComponentSpec, write_json
from kdkeras import plots, training, windows
from kdkeras.models import backbones
from kdkeras.models.docbert import DocBERT



class TeacherTrainer(Component):
    """Trains DocBERT on the train split, selecting the epoch by dev metric.

    Outputs `teacher.keras` (the classifier, token-id inputs),
    `preprocessor/` (WordPiece vocabulary and settings),
    `history.json` and `training.png`.

    Parameters:
        backbone: "minilm" (offline default), a KerasHub preset name, a local
            HuggingFace BERT folder, or "tiny".
        sequence_length, epochs, batch_size, learning_rate, warmup_fraction,
        weight_decay, dropout, pooling, seed, jit_compile: training recipe
            (`dropout`: on the document vector, before the classifier).
        backbone_dropout: dropout inside the backbone (None: the
            checkpoint's, 0.1 for BERT and MiniLM). Its random masks over
            every attention probability cost a training step 9 % at 64
            word pieces and 19 % at 256 on CPU (`docs/results`
            `teacher_dropout_cost_reuters.json`).
        freeze_embeddings: keep the backbone's word-piece, position and
            segment embeddings at their pre-trained weights (half of
            MiniLM-L6's weights: no gradient, no optimizer update).
        frozen_layers: keep this many transformer layers from the bottom
            at their pre-trained weights too (no backward pass below the
            lowest trained layer); see `kdkeras.models.backbones.freeze`.
            With both, 3 of MiniLM-L6's 6 layers frozen make a step 36 %
            cheaper at 64 word pieces (`docs/results`
            `teacher_freeze_cost_reuters.json`).
        distribute: tf.distribute strategy name (None, "mirrored", ...).
        windows: read each document as up to this many overlapping windows
            of `sequence_length` word pieces, pooling their logits (1: truncate).
        window_stride: word pieces between window starts (None: half a window).
        window_pooling: "mean" or "max" of the window logits.
        length_buckets: tokenise the train split once and cut each batch to
            its longest document, batching documents of similar length
            (`kdkeras.buckets`); False pads every batch to `sequence_length`.
        cache_frozen: with the embeddings and `frozen_layers` frozen (and
            length buckets), run the frozen layers once per document and
            fine-tune the layers above on their cached output
            (`kdkeras.frozen`): a step runs only the trained layers. The
            frozen layers then run without dropout. Falls back to running
            the whole teacher when the cache would pass
            `kdkeras.training.CACHE_LIMIT`. With 4 of MiniLM-L6's 6 layers
            frozen at 64 word pieces a step costs 45 % less, and Reuters
            scores 90.87 ± 0.10 dev / 87.05 ± 0.13 test against 90.74 ±
            0.10 / 87.24 ± 0.08 for the whole teacher (3 seeds, `docs/results`
            `teacher_cache_cost_reuters.json`,
            `sweep_reuters_teacher_frozen4_cached_3seeds.json`).
    """

    SPEC = ComponentSpec(
        inputs=("examples",),
        parameters=dict(
            backbone="minilm", sequence_length=128, epochs=2, batch_size=16, learning_rate=1e-4,
            warmup_fraction=0.1, weight_decay=0.01, dropout=0.1, pooling="cls", seed=0, jit_compile=True,
            distribute=None, windows=1, window_stride=None, window_pooling="mean", length_buckets=True,
            backbone_dropout=None, freeze_embeddings=False, frozen_layers=0, cache_frozen=True,
        ),
        description="fine-tuned DocBERT teacher",
    )

    def fingerprint_parameters(self):
        # Settings at their neutral value leave the fingerprint as it was before they existed.
        params = dict(self.parameters)
        if params["windows"] == 1:  # truncation
            params = {k: v for k, v in params.items() if not k.startswith("window")}
        for key, neutral in (("backbone_dropout", None), ("freeze_embeddings", False), ("frozen_layers", 0)):
            if params[key] == neutral and type(params[key]) is type(neutral):  # everything trains, as before
                del params[key]
        cached = (params["cache_frozen"] and params.get("freeze_embeddings") and params.get("frozen_layers")
                  and params["length_buckets"] and self.parameters["windows"] == 1)
        if not cached:
            del params["cache_frozen"]  # nothing to cache, or not cached: the teacher of before
        return params

    def execute(self, inputs, output_dir, work_dir):
        p = self.parameters
        schema = load_schema(inputs["examples"])
        train, _ = read_split(inputs["examples"], "train")
        dev, _ = read_split(inputs["examples"], "dev")
        keras.utils.set_random_seed(p["seed"])
        with training.distribution_strategy(p["distribute"]).scope():  # variables created under the strategy
            backbone, preprocessor = backbones.load_backbone(
                p["backbone"], p["sequence_length"], train_texts=train.texts, seed=p["seed"], dropout=p["backbone_dropout"]
            )
            backbones.freeze(backbone, embeddings=p["freeze_embeddings"], layers=p["frozen_layers"])
            teacher = DocBERT(backbone, schema["num_classes"], dropout=p["dropout"], pooling=p["pooling"])
            model, transform = windows.wrap(teacher, preprocessor, p["windows"], p["window_stride"], p["window_pooling"])
            result = training.fit_teacher(
                model, transform, train, dev, schema["multi_label"], epochs=p["epochs"], batch_size=p["batch_size"],
                learning_rate=p["learning_rate"], warmup_fraction=p["warmup_fraction"],
                weight_decay=p["weight_decay"], seed=p["seed"], work_dir=work_dir, jit_compile=p["jit_compile"],
                length_buckets=p["length_buckets"], cache_frozen=p["cache_frozen"], log=self.log,
            )
        teacher.save(os.path.join(output_dir, TEACHER_MODEL_FILE))
        backbones.save_preprocessor(preprocessor, os.path.join(output_dir, PREPROCESSOR_DIR))
        windows.save_config(os.path.join(output_dir, PREPROCESSOR_DIR), p["windows"], p["window_stride"],
                            p["window_pooling"])
        plots.training_curves(result["history"], os.path.join(output_dir, CURVES_FILE), "teacher")
        write_json(os.path.join(output_dir, HISTORY_FILE), result)
        return {"best_epoch": result["best_epoch"], "dev_score": result["dev_score"], "params": teacher.count_params(),
                "cached_layers": result["cached_layers"]}
