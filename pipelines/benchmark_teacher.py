"""Teacher cost: `python -m pipelines.benchmark_teacher --sequence-lengths 128,256 [--backbone-dropouts 0.1,0 | --freeze none,embeddings]`.

Measures what length-bucketed batches (`kdkeras.buckets`) save the DocBERT
teacher on a dataset's train split: word-piece slots computed per epoch with
every batch padded to the sequence length versus cut to its bucket, and the
measured throughput of training steps and of inference in both modes, in
real (non-padding) word pieces per second. Training steps start from the
same backbone and are timed after a warm-up (XLA compiles each shape once).

With `--backbone-dropouts` it times instead a training step at each rate
of dropout inside the backbone (`TeacherTrainer(backbone_dropout=...)`),
the models taking turns on the same batches so that other load on the
machine weighs on every rate alike (default file
`docs/results/teacher_dropout_cost_<dataset>.json`). With `--freeze` it
does the same for parts of the backbone kept at their pre-trained weights
(`TeacherTrainer(freeze_embeddings=..., frozen_layers=...)`, default file
`docs/results/teacher_freeze_cost_<dataset>.json`).

Writes a JSON results file (default `docs/results/teacher_cost_<dataset>.json`).
"""

import argparse
import json
import os
import sys
import time

from pipelines import cli


def _timed_steps(model, batches, warmup):
    """Seconds for `model.train_on_batch` over `batches` after `warmup` untimed ones (same shapes)."""
    for x, y in batches[:warmup]:
        model.train_on_batch(x, y)
    started = time.perf_counter()
    for x, y in batches[warmup:]:
        model.train_on_batch(x, y)
    return time.perf_counter() - started


def _compiled_teacher(texts, y, multi_label, sequence_length, backbone, seed, backbone_dropout=None,
                      freeze_embeddings=False, frozen_layers=0):
    """A fresh DocBERT from the backbone, compiled for timed `train_on_batch` steps with XLA (settings: `VARIANT_KEYS`)."""
    import keras

    from kdkeras.distillation import task_loss
    from kdkeras.models import DocBERT, backbones

    keras.utils.set_random_seed(seed)
    backbone_model, _ = backbones.load_backbone(backbone, sequence_length, train_texts=texts, seed=seed,
                                                dropout=backbone_dropout)
    backbones.freeze(backbone_model, embeddings=freeze_embeddings, layers=frozen_layers)
    model = DocBERT(backbone_model, y.shape[1] if y.ndim == 2 else int(y.max()) + 1)
    model.compile(optimizer=keras.optimizers.AdamW(1e-5), loss=task_loss(multi_label), jit_compile=True)
    return model


def _one_batch_per_shape(encoded, sample, y):
    """Warm-up batches: one of every cut length in `sample` (XLA compiles each shape once)."""
    shapes = {}
    for b in sample:
        shapes.setdefault(encoded.cut_length(b), b)
    return [(encoded.batch(b), y[b]) for b in shapes.values()]


def _cached_top(teacher, encoded, sample, y, multi_label):
    """`(top model, batches, warm-up batches, cache seconds)`: `teacher` above its frozen bottom, on cached states.

    The documents of `sample` are cached once (timed, after a warm-up pass
    that traces each shape); the top is compiled like `_compiled_teacher`.
    """
    import keras
    import numpy as np

    from kdkeras import buckets, frozen
    from kdkeras.distillation import task_loss

    depth = frozen.frozen_depth(teacher.backbone)
    docs = np.unique(np.concatenate(sample))
    subset = buckets.Encoded({k: v[docs] for k, v in encoded.inputs.items()}, encoded.lengths[docs], encoded.buckets)
    bottom = frozen.bottom_model(teacher.backbone, depth)
    frozen.cache(bottom, subset)  # traces every shape
    started = time.perf_counter()
    hidden = frozen.cache(bottom, subset)
    seconds = time.perf_counter() - started
    position = np.full(len(encoded), -1)
    position[docs] = np.arange(len(docs))
    cached_sample = [position[b] for b in sample]
    top = frozen.top_model(teacher, depth)
    top.compile(optimizer=keras.optimizers.AdamW(1e-5), loss=task_loss(multi_label), jit_compile=True)
    batches = [(hidden.batch(b), y[d]) for b, d in zip(cached_sample, sample)]
    return top, batches, _one_batch_per_shape(hidden, cached_sample, y[docs]), seconds


def measure(texts, labels, multi_label, sequence_length, steps=24, batch_size=16, backbone="minilm", seed=0,
            log=print):
    """Padding and throughput with and without length buckets at one sequence length; returns a dict."""
    import numpy as np

    from kdkeras import buckets, training
    from kdkeras.models import load_backbone

    _, preprocessor = load_backbone(backbone, sequence_length, train_texts=texts, seed=seed)
    encoded = buckets.encode(texts, preprocessor)
    n = len(encoded)
    bucketed = buckets.training_batches(encoded, batch_size, seed, epoch=0)
    plain = [np.arange(n)[i:i + batch_size] for i in range(0, n, batch_size)]
    slots = {"padded": n * sequence_length, "bucketed": encoded.padded_count(bucketed)}
    row = {
        "sequence_length": sequence_length, "documents": n, "buckets": encoded.buckets,
        "word_pieces": encoded.token_count, "truncated_documents": int((encoded.lengths >= sequence_length).sum()),
        "slots_per_epoch": slots, "slot_saving": round(1 - slots["bucketed"] / slots["padded"], 4),
        "share_real_padded": round(encoded.token_count / slots["padded"], 4),
        "share_real_bucketed": round(encoded.token_count / slots["bucketed"], 4),
    }
    y = training.targets(np.asarray(labels), multi_label)
    rng = np.random.default_rng(seed)
    # The same documents in both modes: the first `steps` bucketed batches (a sample of all lengths).
    sample = [bucketed[i] for i in rng.permutation(len(bucketed))[:steps] if len(bucketed[i]) == batch_size]
    for mode in ("padded", "bucketed"):
        model = _compiled_teacher(texts, y, multi_label, sequence_length, backbone, seed)
        if mode == "bucketed":
            batches = [(encoded.batch(b), y[b]) for b in sample]
            warm = _one_batch_per_shape(encoded, sample, y)
        else:
            batches = [({k: v[b] for k, v in encoded.inputs.items()}, y[b]) for b in sample]
            warm = batches[:1]
        _timed_steps(model, warm, len(warm))
        seconds = _timed_steps(model, batches, 0)
        real = int(sum(encoded.lengths[b].sum() for b in sample))
        row[f"train_{mode}"] = {"steps": len(sample), "seconds": round(seconds, 2),
                                "real_word_pieces_per_s": round(real / seconds, 1),
                                "epoch_minutes_estimate": round(seconds / len(sample) * len(plain) / 60, 1)}
        log(f"[teacher cost] MSL {sequence_length} {mode}: training {real / seconds:,.0f} real word pieces/s")
        infer = sample[:steps]
        for x, _ in warm:  # each shape traced once, as in training
            model.predict_on_batch(x)
        started = time.perf_counter()
        if mode == "bucketed":
            for b in infer:
                model.predict_on_batch(encoded.batch(b))
        else:
            for b in infer:
                model.predict_on_batch({k: v[b] for k, v in encoded.inputs.items()})
        seconds = time.perf_counter() - started
        row[f"inference_{mode}"] = {"seconds": round(seconds, 2), "real_word_pieces_per_s": round(real / seconds, 1)}
        log(f"[teacher cost] MSL {sequence_length} {mode}: inference {real / seconds:,.0f} real word pieces/s")
    row["train_speedup"] = round(row["train_bucketed"]["real_word_pieces_per_s"]
                                 / row["train_padded"]["real_word_pieces_per_s"], 2)
    return row


VARIANT_KEYS = ("backbone_dropout", "freeze_embeddings", "frozen_layers", "cache_frozen")


def variant_label(settings):
    """A short name for a teacher variant, e.g. "dropout 0, embeddings + 2 layers frozen"."""
    parts = []
    if settings.get("backbone_dropout") is not None:
        parts.append(f"dropout {settings['backbone_dropout']:g}")
    embeddings, layers = settings.get("freeze_embeddings", False), settings.get("frozen_layers", 0)
    if embeddings or layers:
        frozen = [*(["embeddings"] if embeddings else []), *([f"{layers} layer{'s' * (layers > 1)}"] if layers else [])]
        parts.append(" + ".join(frozen) + " frozen" + (", cached" if settings.get("cache_frozen") else ""))
    return ", ".join(parts) or "as trained by default"


def parse_freeze(text):
    """`--freeze` values: "none", "embeddings", "embeddings+K" or "K" → `{freeze_embeddings, frozen_layers}` dicts.

    "embeddings+K+cached" is the same teacher trained on the cached output
    of its frozen bottom (`cache_frozen`, `kdkeras.frozen`).
    """
    variants = []
    for item in text.split(","):
        item = item.strip()
        cached = item.endswith("+cached")
        item = item[:-len("+cached")] if cached else item
        if cached and not (item.startswith("embeddings+") and item[len("embeddings+"):].isdigit()):
            raise ValueError(f"--freeze: {item + '+cached'!r}: only embeddings+K can be cached")
        embeddings = item.startswith("embeddings")
        rest = item[len("embeddings"):].lstrip("+") if embeddings else ("" if item == "none" else item)
        try:
            layers = int(rest) if rest else 0
        except ValueError:
            raise ValueError(f"--freeze: {item!r} is not none, embeddings, embeddings+K or K") from None
        variants.append({"freeze_embeddings": embeddings, "frozen_layers": layers, **({"cache_frozen": True} if cached else {})})
    return variants


def measure_variants(texts, labels, multi_label, sequence_length, variants, steps=8, rounds=3, batch_size=16,
                     backbone="minilm", seed=0, log=print):
    """Training-step time of teacher variants on the same length-bucketed batches; returns a dict.

    Args:
        variants: dicts of teacher settings (`VARIANT_KEYS`: backbone
            dropout, frozen embeddings, frozen transformer layers); the
            first is the reference.

    Every model first trains on one batch of each shape (XLA compiles it),
    then the models take turns: in each of `rounds` rounds each one runs
    the same `steps` batches. Reported per variant: the median round, as
    seconds per step and real word pieces per second, and the share of a
    step saved against the first variant. A `cache_frozen` variant trains
    its top on the cached output of its frozen bottom (`kdkeras.frozen`);
    the time to cache the batches' documents once is reported beside it
    (`cache_seconds_per_step`: to spread over the epochs of a training).
    """
    import numpy as np

    from kdkeras import buckets, training
    from kdkeras.models import load_backbone

    _, preprocessor = load_backbone(backbone, sequence_length, train_texts=texts, seed=seed)
    encoded = buckets.encode(texts, preprocessor)
    bucketed = buckets.training_batches(encoded, batch_size, seed, epoch=0)
    y = training.targets(np.asarray(labels), multi_label)
    rng = np.random.default_rng(seed)
    sample = [bucketed[i] for i in rng.permutation(len(bucketed)) if len(bucketed[i]) == batch_size][:steps]
    batches = [(encoded.batch(b), y[b]) for b in sample]
    warm = _one_batch_per_shape(encoded, sample, y)
    models, inputs, cache_seconds = [], [], []
    for settings in variants:
        unknown = set(settings) - set(VARIANT_KEYS)
        if unknown:
            raise ValueError(f"unknown teacher variant settings {sorted(unknown)}; known: {', '.join(VARIANT_KEYS)}")
        settings = dict(settings)
        cached = settings.pop("cache_frozen", False)
        model = _compiled_teacher(texts, y, multi_label, sequence_length, backbone, seed, **settings)
        model_batches, model_warm, seconds_cached = batches, warm, None
        if cached:
            model, model_batches, model_warm, seconds_cached = _cached_top(model, encoded, sample, y, multi_label)
        _timed_steps(model, model_warm, len(model_warm))
        models.append(model)
        inputs.append(model_batches)
        cache_seconds.append(seconds_cached)
    seconds = [[] for _ in variants]
    for _ in range(rounds):
        for k, model in enumerate(models):
            seconds[k].append(_timed_steps(model, inputs[k], 0))
    real = int(sum(encoded.lengths[b].sum() for b in sample))
    rows, reference = [], float(np.median(seconds[0]))
    for settings, model, times, cached in zip(variants, models, seconds, cache_seconds):
        median = float(np.median(times))
        row = {**settings, "label": variant_label(settings), "seconds_per_step": round(median / len(batches), 3),
               **({"cache_seconds_per_step": round(cached / len(batches), 3)} if cached is not None else {}),
               "real_word_pieces_per_s": round(real / median, 1), "round_seconds": [round(t, 2) for t in times],
               "step_saving": round(1 - median / reference, 4),
               "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights))}
        rows.append(row)
        log(f"[teacher step] MSL {sequence_length}, {row['label']}: "
            f"{median / len(batches):.3f} s/step, {real / median:,.0f} real word pieces/s")
    return {"sequence_length": sequence_length, "steps": len(batches), "rounds": rounds,
            "real_word_pieces": real, "slots": int(encoded.padded_count(sample)), "variants": rows}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pipelines.benchmark_teacher", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="reuters")
    p.add_argument("--data-dir", help="dataset folder (default: the shipped Reuters)")
    p.add_argument("--sequence-lengths", type=cli.int_list, default=[128, 256])
    p.add_argument("--steps", type=int, default=24, help="timed training steps per mode")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--backbone", default="minilm")
    p.add_argument("--backbone-dropouts", metavar="R1,R2,...",
                   help="time a training step at each backbone dropout rate instead (the first is the reference)")
    p.add_argument("--freeze", metavar="V1,V2,...",
                   help="time a training step with each part of the backbone frozen instead: none, embeddings, "
                        "embeddings+K (and the first K transformer layers) or K (the first is the reference); "
                        "embeddings+K+cached trains the layers above on the frozen bottom's cached output")
    p.add_argument("--rounds", type=int, default=3, help="with --backbone-dropouts or --freeze: timed rounds per variant")
    p.add_argument("--output", help="results file (default docs/results/teacher_cost_<dataset>.json, "
                                    "teacher_dropout_cost_<dataset>.json with --backbone-dropouts, "
                                    "teacher_freeze_cost_<dataset>.json with --freeze)")
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)

    from components.base import write_json
    from kdkeras.data import registry

    spec = registry.get_dataset(args.dataset)
    train = registry.load_dataset(spec, args.data_dir)[0]["train"]
    lengths = args.sequence_lengths
    if args.backbone_dropouts or args.freeze:
        if args.backbone_dropouts and args.freeze:
            p.error("--backbone-dropouts and --freeze: one at a time")
        try:
            variants = (parse_freeze(args.freeze) if args.freeze else
                        [{"backbone_dropout": float(r)} for r in args.backbone_dropouts.split(",")])
        except ValueError as e:
            p.error(str(e))
        rows = [measure_variants(train.texts, train.labels, spec.multi_label, length, variants, args.steps,
                                 args.rounds, args.batch_size, args.backbone) for length in lengths]
        name = "teacher_freeze_cost" if args.freeze else "teacher_dropout_cost"
    else:
        rows = [measure(train.texts, train.labels, spec.multi_label, length, args.steps, args.batch_size,
                        args.backbone) for length in lengths]
        name = "teacher_cost"
    result = {"dataset": args.dataset, "command": cli.command_line("pipelines.benchmark_teacher", argv),
              "batch_size": args.batch_size, "backbone": args.backbone, "cpu_count": os.cpu_count(), "rows": rows}
    output = args.output or os.path.join("docs", "results", f"{name}_{args.dataset}.json")
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    write_json(output, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
