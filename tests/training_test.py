import keras
import numpy as np
import pytest

from kdkeras import batches, callbacks, training


def test_prior_logits_match_label_frequencies():
    labels = np.zeros((100, 3), np.int8)
    labels[:20, 0] = 1
    labels[:50, 1] = 1
    p = 1 / (1 + np.exp(-training.prior_logits(labels, True)))
    assert p[0] == pytest.approx(20.5 / 101) and p[1] == pytest.approx(50.5 / 101)
    assert np.isfinite(p[2]) and p[2] < 0.01
    single = np.eye(3, dtype=np.int8)[[0] * 70 + [1] * 30]
    q = np.exp(training.prior_logits(single, False))
    assert q[0] / q[1] == pytest.approx(70.5 / 30.5)


def test_init_output_bias_sets_the_logits_layer():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(inputs))
    labels = np.eye(3, dtype=np.int8)[[0, 0, 1, 2]]
    assert training.init_output_bias(model, labels, True)
    np.testing.assert_allclose(model.get_layer("logits").bias.numpy(), training.prior_logits(labels, True))
    other = keras.Model(inputs, keras.layers.Dense(3, name="head")(inputs))
    assert not training.init_output_bias(other, labels, True)


def test_warmup_linear_decay():
    schedule = training.WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    values = [float(schedule(s)) for s in (0, 5, 10, 55, 100, 150)]
    assert values == pytest.approx([0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], abs=1e-9)


def test_distribution_strategy_names():
    assert training.distribution_strategy(None).num_replicas_in_sync == 1
    with pytest.raises(ValueError, match="unknown distribution strategy"):
        training.distribution_strategy("ring")


def _train_toy_lstm(work_dir, updates=12, distill=False):
    """A tiny reg-LSTM (dropout, weight drop, EMA) trained with `fit_student` on toy documents."""
    from kdkeras.data.hedwig import Split
    from kdkeras.models import get_student
    from kdkeras.text import WordTokenizer
    from tests.helpers import make_docs

    def split(n, seed):
        rows = make_docs(n, seed)
        return Split([t for _, t in rows], np.array([[int(b) for b in bits] for bits, _ in rows], np.int8), "toy")

    train, dev = split(60, 0), split(20, 1)
    spec = get_student("lstm")
    tokenizer = WordTokenizer.adapt(train.texts, 200, 30, spec.features)
    keras.utils.set_random_seed(0)
    student = spec.build(tokenizer.vocabulary_size, 3, seed=0, embedding_dim=8, hidden_dim=4, embedding_dropout=0.1,
                         weight_drop=0.2, dropout=0.5)
    optimizer = spec.optimizer(learning_rate=1e-2, ema_momentum=0.9, use_ema=True)
    logits = np.random.default_rng(0).normal(size=(len(train), 3)).astype("float32") if distill else None
    result = training.fit_student(student, tokenizer, train, dev, True, updates=updates, evaluations=3, batch_size=16,
                                  optimizer=optimizer, teacher_logits=logits, seed=0, work_dir=work_dir, ema=True,
                                  verbose=0)
    return result, [w.numpy() for w in student.weights]


class _Killed(Exception):
    pass


@pytest.mark.slow  # a resume test: an interrupted and an uninterrupted training per case
@pytest.mark.parametrize("distill, where, epoch", [(False, "after_backup", 2), (True, "before_backup", 1)])
def test_interrupted_training_resumes_to_the_same_result(tmp_path, monkeypatch, distill, where, epoch):
    # A training stopped at the end of an epoch (backed up, or scored but not yet backed up) and started
    # again ends with the same weights, history and selection as one that ran through: the backup restores
    # the dropout generators' states too, and every epoch has its own fixed order of batches. Stopped after
    # the last epoch's backup, it does not train again.
    reference, reference_weights = _train_toy_lstm(str(tmp_path / "ref"), distill=distill)
    original = callbacks.EpochBackup.on_epoch_end

    def killed(self, e, logs=None):
        if where == "after_backup":
            original(self, e, logs)
        if e == epoch:
            raise _Killed()
        if where == "before_backup":
            original(self, e, logs)

    with monkeypatch.context() as m:
        m.setattr(callbacks.EpochBackup, "on_epoch_end", killed)
        with pytest.raises(_Killed):
            _train_toy_lstm(str(tmp_path / "work"), distill=distill)
    backup = callbacks.EpochBackup(str(tmp_path / "work" / "backup"))
    assert backup.initial_epoch == (epoch + 1 if where == "after_backup" else epoch)
    resumed, resumed_weights = _train_toy_lstm(str(tmp_path / "work"), distill=distill)
    assert resumed == reference
    assert len(reference["history"]["loss"]) == 3
    for a, b in zip(reference_weights, resumed_weights):
        np.testing.assert_array_equal(a, b)


def test_training_dataset_order_depends_on_the_epoch_alone():
    texts = [f"doc {i}" for i in range(7)]
    ds, order = batches.make_training_dataset(texts, np.arange(7), lambda x: x, 3, seed=1)

    def epoch(e):
        order.on_epoch_begin(e)
        return [t.tolist() for _, t in ds.as_numpy_iterator()]

    first, second = epoch(0), epoch(1)
    assert [len(b) for b in first] == [3, 3, 1] and sorted(sum(first, [])) == list(range(7)) and first != second
    assert epoch(1) == second and epoch(0) == first  # whatever came before
    assert ds.cardinality() == batches.steps_per_epoch(7, 3)


def test_update_periods_walk_through_whole_passes_in_order():
    # With a fixed number of batches per epoch (an update budget), epochs take consecutive slices of the
    # concatenated per-pass permutations: every example once per pass, each epoch a function of its index.
    texts = [f"doc {i}" for i in range(7)]
    ds, order = batches.make_training_dataset(texts, np.arange(7), lambda x: x, 3, seed=2, steps=2)

    def epoch(e):
        order.on_epoch_begin(e)
        return [t.tolist() for _, t in ds.as_numpy_iterator()]

    epochs = [epoch(e) for e in range(7)]  # 7 epochs x 2 batches x 3 = 42 examples = 6 passes
    assert all([len(b) for b in batches] == [3, 3] for batches in epochs)
    stream = sum(sum(epochs, []), [])
    for p in range(6):
        assert sorted(stream[7 * p:7 * p + 7]) == list(range(7))
        np.testing.assert_array_equal(stream[7 * p:7 * p + 7], order._pass(p))
    assert epoch(3) == epochs[3]
    assert ds.cardinality() == 2


def test_update_budget():
    assert training.update_budget(1000, 8) == (125, 8)
    assert training.update_budget(1000, 3) == (333, 4)  # rounded up to whole periods
    assert training.update_budget(5, 10) == (1, 5)
    with pytest.raises(ValueError):
        training.update_budget(0)


def test_progress_is_plain_lines_in_files_and_a_bar_on_terminals(monkeypatch):
    from kdkeras import callbacks

    monkeypatch.setattr(callbacks.sys.stdout, "isatty", lambda: False)
    verbose, progress = callbacks.console_progress("auto")
    assert verbose == 0 and [type(c) for c in progress] == [callbacks.ProgressLines]
    monkeypatch.setattr(callbacks.sys.stdout, "isatty", lambda: True)
    assert callbacks.console_progress("auto") == (1, [])
    assert callbacks.console_progress(0) == (0, [])


def test_predict_progress_in_a_log_file_has_no_control_codes(monkeypatch, capsys):
    import keras

    from kdkeras import buckets, callbacks

    monkeypatch.setattr(callbacks.sys.stdout, "isatty", lambda: False)
    inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in buckets.KEYS}
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 4)(inputs["token_ids"]))
    model = keras.Model(inputs, keras.layers.Dense(3)(pooled))
    ids = np.tile(np.asarray([[1, 2, 3, 0], [4, 5, 0, 0], [6, 0, 0, 0]], "int32"), (5, 1))
    inputs = {"token_ids": ids, "padding_mask": (ids > 0).astype("int32"), "segment_ids": np.zeros_like(ids)}
    encoded = buckets.Encoded(inputs, (ids > 0).sum(1), [2, 4])
    logits = buckets.predict_logits(model, encoded, batch_size=4, verbose="auto")
    out = capsys.readouterr().out
    assert logits.shape == (15, 3)
    assert "\x1b[" not in out and "batch 1/4 · " in out and "predicted 4 batches in " in out
    assert "/step" not in out  # Keras' own line is off


def test_progress_lines_show_steps_inside_an_epoch(monkeypatch):
    from kdkeras import callbacks

    lines, clock = [], iter([0.0, 1.0, 5.0, 12.0, 13.0, 20.0, 21.0])
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: next(clock))
    progress = callbacks.ProgressLines(every_s=10, print_fn=lambda line, flush: lines.append(line))
    progress.set_params({"steps": 40, "epochs": 2})
    progress.on_epoch_begin(0)                            # t = 0
    progress.on_train_batch_end(0, {"loss": 0.5})         # t = 1: the first batch is always shown
    progress.on_train_batch_end(1, {"loss": 0.4})         # t = 5: too soon
    progress.on_train_batch_end(2, {"loss": 0.3})         # t = 12: 11 s after the last line
    progress.on_epoch_begin(1)                            # t = 13
    progress.on_train_batch_end(0, {"loss": 0.2})         # t = 20: first batch of the next epoch
    progress.on_train_batch_end(1, {})                    # t = 21: too soon
    assert lines == ["epoch 1: step 1/40 · loss 0.5000 · 1 s", "epoch 1: step 3/40 · loss 0.3000 · 12 s",
                     "epoch 2: step 1/40 · loss 0.2000 · 7 s"]


def test_progress_lines_end_each_epoch_with_its_losses_and_dev_scores(monkeypatch):
    from kdkeras import callbacks

    lines, clock = [], iter([0.0, 1.0, 95.4])
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: next(clock))
    progress = callbacks.ProgressLines(every_s=10, print_fn=lambda line, flush: lines.append(line))
    progress.set_params({"steps": 180, "epochs": 10})
    progress.on_epoch_begin(2)
    progress.on_train_batch_end(0, {"loss": 0.5})
    progress.on_epoch_end(2, {"val_micro_f1": 90.01963, "loss": 0.00631, "distillation_loss": 0.0075})
    assert lines[-1] == "epoch 3/10: 180 steps in 95 s · distillation_loss 0.0075 · loss 0.0063 · val_micro_f1 90.02"
