"""Per-dataset recipes from the paper and run profiles (quick, reference, paper, smoke).

A run configuration is built as: profile defaults → the dataset's paper
settings (teacher epochs, batch sizes, augmentation multiplier) where the
profile follows the paper → command-line overrides.

Students train for a number of optimizer updates (`updates`), not epochs,
so a student distilled on a transfer set several times the size of the
train split costs the same as its plain twin. λ is chosen per distilled
student on dev from `alpha_grid`, which includes 0 (the plain student), so
distilling never ends below not distilling on dev; `--alpha` fixes it.
"""

import copy

# From the DocBERT-KD paper: teacher epochs, λ, student batch size,
# transfer-set multiplier, teacher max sequence length.
PAPER = {
    "reuters": dict(teacher_epochs=30, alpha=1.0, student_batch_size=128, augment_multiplier=3, sequence_length=512),
    "aapd": dict(teacher_epochs=20, alpha=1.0, student_batch_size=128, augment_multiplier=4, sequence_length=512),
    "imdb": dict(teacher_epochs=4, alpha=4.0, student_batch_size=64, augment_multiplier=4, sequence_length=512),
    "yelp": dict(teacher_epochs=1, alpha=4.0, student_batch_size=64, augment_multiplier=1, sequence_length=512),
}
# λ candidates: 0 (no distillation), the paper's single-label λ and the paper's multi-label λ.
ALPHA_GRID = (0.0, 1.0, 4.0)
PAPER_SINGLE_LABEL_DEFAULT = dict(PAPER["imdb"])
PAPER_MULTI_LABEL_DEFAULT = dict(PAPER["reuters"])

# Student settings that differ by dataset (a profile's `dataset_students`: quick and reference). IMDB reviews
# run ~230 words, past the 120 the quick students read: at 400 words the reg-LSTM scores 43.24 dev / 41.50 test
# instead of 37.13 test, and distilled 43.99 / 43.07 instead of 40.04 (3 seeds each, docs/results
# sweep_imdb_teacher256_{lstm,kd_lstm}_sequence_length), above the SVM (40.65) at 3.3× the reg-LSTM's time.
# There the reg-LSTM keeps the 600 updates it was measured with: at 400 words each update costs 3.3× Reuters'.
DATASET_STUDENTS = {
    "imdb": dict(lstm=dict(sequence_length=400, updates=600)),
}

PROFILES = {
    # The paper's hyperparameters (days of CPU time: use a GPU).
    "paper": dict(
        max_docs=None,
        augment_multiplier=None,  # the dataset's (3× Reuters, 4× IMDB/AAPD, none for Yelp)
        teacher=dict(backbone="minilm", sequence_length=None, epochs=None, batch_size=16, learning_rate=2e-5),
        student=dict(sequence_length=1000, max_tokens=100000, word_vectors="random"),
        students=dict(
            lstm=dict(updates=6000, learning_rate=1e-2, ema_momentum=0.99, hparams=dict(
                embedding_dim=300, hidden_dim=512, embedding_dropout=0.2, weight_drop=0.1, dropout=0.5)),
            kimcnn=dict(updates=6000, learning_rate=1e-3, hparams=dict(
                embedding_dim=300, filters=100, widths=[3, 4, 5], dropout=0.5, mode="multichannel")),
            lr=dict(updates=3000, learning_rate=2e-2, hparams=dict()),
            boe=dict(updates=6000, learning_rate=1e-2, hparams=dict(embedding_dim=300, hidden_dim=0, dropout=0.0,
                                                                    word_weights=True)),
        ),
    ),
    # Reuters, teacher and all students: 27 min with the install on 2 CPU cores at ~300 GFLOP/s of matmul
    # (table2_reuters_make_run_lstm1800, table2_reuters_make_run_distilled_dropout; 24 min at 236 GFLOP/s with the
    # reg-LSTM at 600 updates, table2_reuters_make_run_inference128; 16 min at 356 GFLOP/s before the teacher read
    # 128 word pieces for its logits, table2_reuters_make_run_cached); earlier teachers took about an hour on the
    # slowest (57 min at 64 GFLOP/s; docs/results table2_reuters_make_run*).
    "quick": dict(
        max_docs=None,
        augment_multiplier=None,  # the dataset's transfer set (3× Reuters); --augment-multiplier 1 turns it off
        # λ grid as multiples of the paper's λ. Multi-label: 0 and a quarter of it, {0, 0.25}: with today's teacher
        # every student's mean dev over 3 seeds is lower at λ = 1 than at 0.25 on Reuters (reg-LSTM 88.91 / 89.42,
        # KimCNN 88.75 / 88.90, LR 88.02 / 88.76, boe 89.42 / 89.79; docs/results
        # table2_reuters_quick_inference128_3seeds), and a one-seed run picked it on noise. Single-label: 0, a
        # quarter and the paper's, {0, 1, 4}: on IMDB polarity λ = 1 was KimCNN's and the LR's choice, λ = 4 the
        # reg-LSTM's (table2_imdb_polarity_teacher256_400words).
        alpha_scales=dict(multi_label=(0.0, 0.25), single_label=(0.0, 0.25, 1.0)),
        dataset_students=DATASET_STUDENTS,
        # Embeddings + 3 of 6 layers frozen make a step 36 % cheaper (docs/results teacher_freeze_cost_reuters), which
        # pays for a third epoch: Reuters dev 89.33 ± 0.17 / test 85.63 ± 0.18 against 87.06 ± 0.07 / 83.29 ± 0.17
        # with everything trained for 2 epochs, at the same cost (3 seeds each, docs/results
        # sweep_reuters_teacher_frozen3_epochs_3seeds, sweep_reuters_teacher_default_3seeds). Freezing a fourth layer
        # pays for 6 epochs: dev 90.67 / test 87.35 in 472 s against 89.11 / 85.87 in ~400 s (one seed, 276 GFLOP/s;
        # docs/results sweep_reuters_teacher_frozen45_epochs6), a teacher above every student on dev. The frozen bottom
        # runs once per document (TeacherTrainer cache_frozen, on by default): a step 45 % cheaper, the same scores
        # (docs/results teacher_cache_cost_reuters, sweep_reuters_teacher_frozen4_cached_3seeds).
        teacher=dict(backbone="minilm", sequence_length=64, epochs=6, batch_size=16, learning_rate=2e-4,
                     freeze_embeddings=True, frozen_layers=4),
        # Trained on 64 word pieces, the teacher reads 128 for its logits (pre-trained position embeddings):
        # Reuters dev 90.89 → 91.16, and KD-KimCNN gains over 3 seeds (docs/results
        # sweep_reuters_teacher_inference_length, table2_reuters_quick_inference128_3seeds).
        teacher_inference_length=128,
        student=dict(sequence_length=120, max_tokens=30000, word_vectors="teacher_pca"),
        students=dict(
            # The reg-LSTM and KimCNN keep every word (Reuters train has 23k types): cut to 15k / 12k words for
            # int8 files under 2 MB they lost 0.74 / 0.50 test points (docs/results table2_reuters_make_run_small_vocab).
            # 64-d word vectors instead of 96 keep every word in 1.62M parameters (2.39M at 96) for dev -0.10
            # (docs/results sweep_reuters_lstm_embedding_dim).
            # 1,800 updates: the distilled reg-LSTM keeps learning from the transfer set where the plain one has
            # stopped, KD +0.78 dev / +1.04 test at equal updates against +0.76 / +0.86 at 600 (3 seeds, docs/results
            # sweep_reuters_quick_inference128_lstm_updates1800_3seeds), for ~3× a reg-LSTM run; the λ = 1 candidate
            # it no longer trains pays for most of it.
            # Distilled, it drops the dropout before its logits (the teacher's soft targets regularise it): dev / test
            # 90.16 / 86.47 at 0, 90.08 / 86.60 at 0.25, 89.67 / 86.02 at 0.5 (3 seeds, docs/results
            # sweep_reuters_quick_kd_lstm_dropout_3seeds); the plain reg-LSTM at 0.25: 88.95 / 85.34, at 0.5
            # 88.89 / 84.98 (sweep_reuters_quick_lstm_dropout_3seeds).
            # It drops its embedding dropout and weight drop too: 90.81 / 87.62 against 89.92 / 86.45 with 0.1 / 0.1
            # (3 seeds, docs/results sweep_reuters_quick_kd_lstm_no_reg_3seeds); the plain reg-LSTM without any of
            # the three falls to 88.35 dev (88.87 with them; sweep_reuters_quick_lstm_no_reg_3seeds), so it keeps them.
            lstm=dict(updates=1800, learning_rate=1e-2, ema_momentum=0.9, hparams=dict(
                embedding_dim=64, hidden_dim=96, embedding_dropout=0.1, weight_drop=0.1, dropout=0.5),
                distilled_hparams=dict(dropout=0.0, embedding_dropout=0.0, weight_drop=0.0)),
            # One trained channel instead of the paper's two (static + trained): Reuters dev 88.73 ± 0.06 / test
            # 85.82 ± 0.10 against 88.78 ± 0.23 / 85.77 ± 0.24 with half the parameters (1.59M: int8 under 2 MB)
            # and half the convolution FLOPs (docs/results sweep_reuters_kimcnn_mode).
            # Distilled, KimCNN drops its dropout: the teacher's soft targets regularise it instead. Reuters, 3 seeds,
            # dev / test by dropout 0 / 0.1 / 0.25 / 0.5: distilled (λ = 0.25) 89.81 / 89.69 / 89.45 / 88.90 and
            # 87.00 / 86.59 / 86.39 / 86.19, plain 88.40 / 88.78 / 88.76 / 88.82 and 85.46 / 85.82 / 85.87 / 85.65
            # (docs/results sweep_reuters_quick_kd_kimcnn_dropout_3seeds, sweep_reuters_quick_kimcnn_dropout_3seeds).
            kimcnn=dict(updates=600, learning_rate=3e-3, hparams=dict(
                embedding_dim=64, filters=100, widths=[3, 4, 5], dropout=0.5, mode="non-static"),
                distilled_hparams=dict(dropout=0.0)),
            # 5,000 words: dev 89.57 against 88.55 with all 23k (the exact fit, seed-free).
            lr=dict(updates=600, learning_rate=2e-2, max_tokens=5000, hparams=dict()),
            # A linear model on the mean vector learns slowly: 2,000 updates (dev +1.1 over 600); 15,000 words
            # (same dev as all 23k Reuters words) keep the int8 file under 1 MB; it reads 400 words (dev 87.87,
            # against 87.49 at 120 and 87.64 at 1,000), which costs it almost nothing. A learned weight per word
            # in the mean: Reuters dev 87.84 → 89.63, test 83.38 → 87.05 (3 seeds, docs/results
            # sweep_reuters_boe_word_weights) for 15,000 more parameters.
            boe=dict(updates=2000, learning_rate=1e-2, max_tokens=15000, sequence_length=400,
                     hparams=dict(embedding_dim=64, hidden_dim=0, dropout=0.0, word_weights=True)),
        ),
    ),
    # The longest teacher that, with 3 student seeds, fits 2.5 hours on Reuters on 2 CPU cores: 128 word pieces
    # (length-bucketed) for 10 epochs; at these budgets epochs moved the teacher more than length (docs/results
    # sweeps). Measured: 1 h 28 min alone on fast cores, the teacher ~4 min an epoch (docs/results
    # table2_reuters_reference_v2; ~6 min on normal cores, teacher_cost_reuters). λ grid: the quick one and 4×
    # the paper's λ, {0, 0.25, 1, 4} multi-label: with this teacher, 4 was the reg-LSTM's best and 0.25 KimCNN's
    # on Reuters (docs/results table2_reuters_reference, sweep_reuters_reference_kd_kimcnn_alpha).
    "reference": dict(
        max_docs=None,
        augment_multiplier=None,
        alpha_scales=(0.0, 0.25, 1.0, 4.0),
        dataset_students=DATASET_STUDENTS,
        seeds=3,
        teacher=dict(backbone="minilm", sequence_length=128, epochs=10, batch_size=16, learning_rate=1e-4),
        student=dict(sequence_length=200, max_tokens=30000, word_vectors="teacher_pca"),
        students=None,  # the quick profile's (see below)
    ),
    # Tiny models and data: about a minute. Used by the tests.
    "smoke": dict(
        max_docs=200,
        augment_multiplier=1,
        teacher=dict(backbone="tiny", sequence_length=32, epochs=1, batch_size=16, learning_rate=1e-3, jit_compile=False),
        student=dict(sequence_length=40, max_tokens=2000, word_vectors="random"),
        students=dict(
            lstm=dict(updates=4, evaluations=2, learning_rate=5e-3, hparams=dict(
                embedding_dim=16, hidden_dim=8, embedding_dropout=0.1, weight_drop=0.1, dropout=0.5)),
            kimcnn=dict(updates=4, evaluations=2, learning_rate=5e-3, hparams=dict(
                embedding_dim=16, filters=4, widths=[3, 4, 5], dropout=0.5, mode="multichannel")),
            lr=dict(updates=4, evaluations=2, learning_rate=2e-1, hparams=dict()),
            boe=dict(updates=4, evaluations=2, learning_rate=5e-2, hparams=dict(embedding_dim=16)),
        ),
        alpha_grid=(0.0, 1.0),
    ),
}


PROFILES["reference"]["students"] = copy.deepcopy(PROFILES["quick"]["students"])
# The reference reg-LSTM keeps 600 updates: its 3 seeds × 4 λ at 1,800 would take the profile past 2.5 hours on
# normal cores (at 1,800 KD-LSTM 86.42 test against 86.20; docs/results
# sweep_reuters_reference_lstm_updates1800_3seeds).
PROFILES["reference"]["students"]["lstm"]["updates"] = 600
# and its distilled students the dropout they were measured with (table2_reuters_reference_v2).
PROFILES["reference"]["students"]["lstm"].pop("distilled_hparams")
PROFILES["reference"]["students"]["kimcnn"].pop("distilled_hparams")


def paper_settings(dataset, multi_label):
    if dataset in PAPER:
        return dict(PAPER[dataset])
    return dict(PAPER_MULTI_LABEL_DEFAULT if multi_label else PAPER_SINGLE_LABEL_DEFAULT)


def build_config(dataset, multi_label, profile="quick", overrides=None):
    """Resolves the run configuration for `dataset` under `profile`.

    Args:
        dataset: dataset name.
        multi_label: whether the dataset is multi-label.
        profile: "quick", "reference", "paper" or "smoke".
        overrides: dict with any of `teacher` / `student` sub-dicts (a
            `student` `sequence_length` applies to every student, the boe's
            own length included),
            `students` (name → sub-dict) and `teacher_inference_length`,
            `alpha`, `temperature`, `seed`,
            `seeds`, `max_docs`, `augment_multiplier`, `augment` (rates).

    Returns:
        A dict with `teacher`, `teacher_inference_length` (word pieces the
        teacher reads for its logits; None: its training length),
        `student` (settings shared by students),
        `students` (per-student epochs, learning rate, hyperparameters),
        `alpha`, `temperature`, `seed`, `seeds`, `max_docs`, `augment_multiplier`
        (transfer-set size; 1: no augmentation), `augment` and `paper`.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    base = copy.deepcopy(PROFILES[profile])
    paper = paper_settings(dataset, multi_label)
    teacher = base["teacher"]
    if teacher.get("epochs") is None:
        teacher["epochs"] = paper["teacher_epochs"]
    if teacher.get("sequence_length") is None:
        teacher["sequence_length"] = paper["sequence_length"]
    student = base["student"]
    student["batch_size"] = paper["student_batch_size"]
    for name, settings in base.get("dataset_students", {}).get(dataset, {}).items():
        base["students"][name].update(settings)
    scales = base.get("alpha_scales", ())
    if isinstance(scales, dict):  # a grid per kind of data
        scales = scales["multi_label" if multi_label else "single_label"]
    config = dict(
        profile=profile, teacher=teacher, student=student, students=base["students"], alpha=None,
        alpha_grid=list(base.get("alpha_grid") or [scale * paper["alpha"] for scale in scales] or ALPHA_GRID),
        teacher_inference_length=base.get("teacher_inference_length"),
        temperature=1.0, seed=0, seeds=base.get("seeds", 1), max_docs=base["max_docs"], paper=paper,
        augment_multiplier=base["augment_multiplier"] or paper["augment_multiplier"],
        augment=dict(p_mask=0.1, p_pos=0.1, p_ngram=0.25, max_ngram=5, p_shuffle=0.5, n_iter=20),
    )
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "students":
            for name, sub in value.items():
                config["students"][name].update({k: v for k, v in sub.items() if v is not None})
        elif isinstance(value, dict):
            config[key].update({k: v for k, v in value.items() if v is not None})
            if key == "student" and value.get("sequence_length") is not None:
                for settings in config["students"].values():
                    settings.pop("sequence_length", None)
        else:
            config[key] = value
    config["alpha_grid"] = sorted({0.0, *map(float, config["alpha_grid"])})
    return config
