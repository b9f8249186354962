"""Logistic regression on tf-idf features, as a Keras model so it can be distilled."""

import keras
import numpy as np
from keras import layers

from kdkeras.baselines import C_values


def build_tfidf_lr(vocabulary_size, num_classes, l2=0.0, seed=None, name="tfidf_lr"):
    """Builds a linear classifier over L2-normalised tf-idf vectors.

    The tf-idf features come from `keras.layers.TextVectorization(output_mode="tf_idf")`
    (see `kdkeras.text.WordTokenizer(output_mode="tf_idf")`); with sigmoid
    outputs trained with BCE this is one-vs-rest logistic regression, with
    softmax and CE multinomial logistic regression.

    Args:
        vocabulary_size: width of the tf-idf vector.
        num_classes: number of output logits.
        l2: L2 penalty on the weights.
        seed: initialiser seed.
        name: model name.

    Example:
    >>> model = build_tfidf_lr(vocabulary_size=30000, num_classes=90)
    >>> logits = model(tf_idf_batch)
    """
    features = keras.Input(shape=(vocabulary_size,), name="tf_idf")
    x = layers.UnitNormalization(name="l2_normalise")(features)
    logits = layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
        name="logits",
    )(x)
    return keras.Model(features, logits, name=name)


def tfidf_lr_optimizer(learning_rate=2e-2, updates=None, **kwargs):
    """Adam whose step decays to 0 over the training (cosine), so the convex model settles at its optimum.

    Args:
        learning_rate: initial step.
        updates: length of the training in updates (None: constant step).
    """
    if updates:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=int(updates))
    return keras.optimizers.Adam(learning_rate=learning_rate)


def _sparse_features(tokenizer, texts, batch_size=512):
    """The tokenizer's tf-idf rows, L2-normalised like the model's first layer, as a SciPy CSR matrix."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    rows = [sparse.csr_matrix(np.asarray(tokenizer(list(texts[i:i + batch_size]))))
            for i in range(0, len(texts), batch_size)]
    return normalize(sparse.vstack(rows).tocsr())


def soft_targets(labels, multi_label, teacher_logits=None, alpha=0.0, labeled=None):
    """The targets whose cross-entropy equals `CE(labels) + α·KL(teacher ‖ student)` up to a constant and a factor.

    KL(t ‖ s) = CE(t, s) − H(t), and H(t) does not depend on the student, so
    the distillation objective is the cross-entropy against the mixture
    `(labels + α·p_teacher) / (1 + α)`, times `1 + α`: per label a
    Bernoulli target (multi-label), per document a distribution over classes.
    A document without labels has only `α·KL`: its target is `p_teacher`,
    weighted `α / (1 + α)` relative to a labelled one (see `row_weights`).

    Args:
        labels: label bits `(n, K)`.
        multi_label: sigmoid (True) or softmax (False) teacher probabilities.
        teacher_logits: `(n, K)` teacher logits, or None (labels only).
        alpha: the weight λ of the distillation term.
        labeled: bool per document (False: no labels), or None (all labelled).

    Returns:
        float64 `(n, K)` targets in [0, 1] (rows sum to 1 when single-label).
    """
    targets = np.asarray(labels, "float64")
    if teacher_logits is None or alpha == 0:
        return targets
    logits = np.asarray(teacher_logits, "float64")
    if multi_label:
        p = 1.0 / (1.0 + np.exp(-logits))
    else:
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
    mixed = (targets + alpha * p) / (1.0 + alpha)
    if labeled is not None:
        unlabeled = ~np.asarray(labeled, bool)
        mixed[unlabeled] = p[unlabeled]
    return mixed


def row_weights(labeled, alpha):
    """Per-document weights of the soft-target cross-entropy: 1, or `α / (1 + α)` for a document without labels."""
    if labeled is None:
        return None
    return np.where(np.asarray(labeled, bool), 1.0, alpha / (1.0 + alpha))


def _fit_weights(x, targets, multi_label, C, seed, weights=None):
    """`(kernel (V, K), bias (K,))` of L2-regularised logistic regression on soft targets, solved to convergence.

    A soft target q is a document seen once as positive with weight q and
    once as negative with weight 1 − q (multi-label, liblinear per label),
    or once per class k with weight q_k (single-label, multinomial L-BFGS);
    `weights` (per document) multiply those.
    """
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    n, k = targets.shape
    w = np.ones(n) if weights is None else np.asarray(weights, "float64")
    kernel, bias = np.zeros((x.shape[1], k), "float32"), np.zeros(k, "float32")
    if multi_label:
        doubled = sparse.vstack([x, x]).tocsr()
        side = np.r_[np.ones(n), np.zeros(n)]
        for label in range(k):
            q = targets[:, label]
            weight = np.r_[q * w, (1.0 - q) * w]
            keep = weight > 1e-12
            if side[keep].min() == side[keep].max():  # only one side has weight: the prior bias says it all
                bias[label] = 12.0 if side[keep][0] == 1 else -12.0
                continue
            clf = LogisticRegression(C=C, solver="liblinear", max_iter=1000, random_state=seed)
            clf.fit(doubled[keep], side[keep], sample_weight=weight[keep])
            kernel[:, label], bias[label] = clf.coef_[0], clf.intercept_[0]
        return kernel, bias
    rows = sparse.vstack([x] * k).tocsr()
    classes = np.repeat(np.arange(k), n)
    weight = (targets * w[:, None]).T.reshape(-1)
    keep = weight > 1e-12
    clf = LogisticRegression(C=C, solver="lbfgs", max_iter=1000, random_state=seed)
    clf.fit(rows[keep], classes[keep], sample_weight=weight[keep])
    present = clf.classes_
    if len(present) == 2:  # sklearn keeps one weight vector for two classes: split it symmetrically
        kernel[:, present[1]], kernel[:, present[0]] = clf.coef_[0] / 2, -clf.coef_[0] / 2
        bias[present[1]], bias[present[0]] = clf.intercept_[0] / 2, -clf.intercept_[0] / 2
    else:
        kernel[:, present], bias[present] = clf.coef_.T, clf.intercept_
    bias[np.setdiff1d(np.arange(k), present)] = -12.0
    return kernel, bias


def fit_tfidf_lr(model, tokenizer, train, dev, multi_label, *, teacher_logits=None, alpha=0.0, grid=(10.0, 100.0, 1000.0),
                 extend=3, seed=0, log=None):
    """Fits a `build_tfidf_lr` model to convergence, distilled or not, choosing the L2 strength on dev.

    The model is linear in its (normalised) features, so the objective of
    `kdkeras.distillation.Distiller` at temperature 1 with the labels'
    and the KL's mean over labels, `CE + λ·KL(teacher ‖ student)`, is a
    convex logistic regression against `soft_targets` (documents without
    labels, `train.labeled` False, against the teacher alone). It is solved
    exactly (scikit-learn's liblinear / L-BFGS) for each inverse L2
    strength `C` in `grid`, and the `C` with the best dev score is kept, as
    for the scikit-learn baselines. When the best `C` is the smallest or the
    largest tried and strictly better than its neighbour, the search goes on
    tenfold in that direction (at most `extend` times each way): how much
    regularisation is right depends on the data's size and noise, and on
    the teacher's targets. The result is written into the model's `logits`
    layer; the model is then used like any other student.

    Args:
        model: from `build_tfidf_lr` (`tokenizer.vocabulary_size` inputs).
        tokenizer: the `kdkeras.text.WordTokenizer` in `"tf_idf"` mode.
        train, dev: `kdkeras.data.hedwig.Split`s.
        multi_label: one-vs-rest sigmoid (True) or softmax (False) model.
        teacher_logits: train-split teacher logits (None: labels only).
        alpha: weight λ of the distillation term.
        grid: inverse L2 strengths to choose from on dev.
        extend: tenfold steps past an edge of `grid` whose dev score is
            still improving (0: the grid alone; a one-value grid is never extended).
        seed: solver seed.
        log: optional progress printer.

    Returns:
        `{"C", "dev_score", "dev_by_C"}`.

    Example:
    >>> model = build_tfidf_lr(tokenizer.vocabulary_size, num_classes=90)
    >>> fit_tfidf_lr(model, tokenizer, train, dev, True, teacher_logits=logits, alpha=1.0)
    """
    from kdkeras import metrics

    labeled = train.labeled
    if labeled is not None and (teacher_logits is None or alpha == 0):  # no labels and no teacher: nothing to learn
        keep = np.flatnonzero(labeled)
        train = train.subset(keep)
        teacher_logits, labeled = None if teacher_logits is None else np.asarray(teacher_logits)[keep], None
    x, x_dev = _sparse_features(tokenizer, train.texts), _sparse_features(tokenizer, dev.texts)
    targets = soft_targets(train.labels, multi_label, teacher_logits, alpha, labeled)
    weights = row_weights(labeled, alpha)
    layer, best, scores = model.get_layer("logits"), None, {}
    for C in C_values(tuple(grid), scores, extend):
        # The distillation objective is (1 + λ) times a cross-entropy: the same minimiser as C·(1 + λ).
        kernel, bias = _fit_weights(x, targets, multi_label, C * (1.0 + alpha), seed, weights)
        scores[C] = metrics.score(dev.labels, np.asarray(x_dev @ kernel) + bias, multi_label)
        if log:
            log(f"C={C:g}: dev {scores[C]:.2f}")
        if best is None or scores[C] > scores[best[0]]:
            best = (C, kernel, bias)
    layer.kernel.assign(best[1])
    layer.bias.assign(best[2])
    return {"C": best[0], "dev_score": scores[best[0]], "dev_by_C": {f"{c:g}": s for c, s in scores.items()}}
