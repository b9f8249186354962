"""The Beam transfer set on a tiny dataset with a tiny teacher."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from components.artifacts import load_teacher, read_split
from components.example_gen import ExampleGen
from components.teacher_trainer import TeacherTrainer
from components.transfer_set import TransferSet, beam_options, build_pipeline
from kdkeras import augment, batches
from kdkeras import transfer_set as ts
from kdkeras.data import examples
from tests.helpers import make_docs, teacher_trained_on, write_hedwig

IN_MEMORY = ["--runner=DirectRunner", "--direct_running_mode=in_memory"]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    root = tmp_path_factory.mktemp("ts")
    # Two-sentence documents, with one exact duplicate pair.
    rows = [(bits, f"{text} {make_docs(1, 100 + i)[0][1].capitalize()}") for i, (bits, text) in enumerate(make_docs(40))]
    rows.append(rows[0])
    data = write_hedwig(str(root / "data"), {"train": rows, "dev": make_docs(10, 1), "test": make_docs(10, 2)})
    ex = ExampleGen(dataset="custom", data_dir=data).run({}, str(root / "run"), log=lambda *_: None)
    teacher = TeacherTrainer(backbone="tiny", sequence_length=32, epochs=1, jit_compile=False).run(
        {"examples": ex}, str(root / "run"), log=lambda *_: None)
    return root, ex, teacher


def read_records(artifact):
    records = []
    for raw in tf.data.TFRecordDataset(examples.shard_files(artifact.path("Split-train")), compression_type="GZIP"):
        f = tf.train.Example.FromString(raw.numpy()).features.feature
        records.append({
            "text": f["text"].bytes_list.value[0].decode(),
            "labels": list(f["labels"].int64_list.value),
            "logits": np.array(f["teacher_logits"].float_list.value),
            "source_id": f["source_id"].bytes_list.value[0].decode(),
            "augmentations": [a.decode() for a in f["augmentations"].bytes_list.value],
        })
    return records


def test_transfer_set_records_round_trip_with_the_right_counts(upstream):
    root, ex, teacher = upstream
    artifact = TransferSet(multiplier=3, beam_args=IN_MEMORY).run(
        {"examples": ex, "teacher": teacher}, str(root / "run"), log=lambda *_: None)
    stats = artifact.metadata["results"]
    counters = stats["counters"]
    assert counters["documents_read"] == 41 and counters["documents_tagged"] == 41
    records = read_records(artifact)
    # 40 distinct documents (+1 duplicate) x 3, duplicates dropped: the duplicate's original and its
    # copies (seeded by the same text-derived id) coincide with the first one's.
    assert len(records) == stats["records"] == counters["logits_computed"] == 120 and counters["logits_reused"] == 0
    assert counters["duplicates_dropped"] == 3 and counters["copies_made"] == 82
    # Padded word-piece slots the teacher computed, over the documents' own word pieces.
    assert counters["teacher_slots"] >= counters["teacher_word_pieces"] > 0
    assert stats["teacher_padding"] == pytest.approx(counters["teacher_slots"] / counters["teacher_word_pieces"] - 1,
                                                     abs=1e-4)
    assert len({r["text"] for r in records}) == len(records)
    by_source = collections.defaultdict(list)
    for r in records:
        by_source[r["source_id"]].append(r)
    assert len(by_source) == 40 and all(len(v) == 3 for v in by_source.values())
    for group in by_source.values():
        original = [r for r in group if not r["augmentations"]]
        assert len(original) == 1 and ts.document_id(original[0]["text"]) == group[0]["source_id"]
        assert all(r["labels"] == original[0]["labels"] for r in group)
        assert all(set(r["augmentations"]) <= set(augment.RULES) for r in group)
    # Stored logits are the teacher's logits for the stored text.
    model, preprocessor = load_teacher(teacher)
    expected = batches.predict_logits(model, preprocessor, [r["text"] for r in records])
    np.testing.assert_allclose(np.stack([r["logits"] for r in records]), expected, atol=1e-4)
    # Students read it like any split, logits included.
    split, logits = read_split(artifact, "train", with_logits=True)
    assert len(split) == 120 and logits.shape == (120, 3)


def test_originals_read_with_teacher_logits_keep_them(upstream):
    from components.teacher_inference import TeacherInference

    root, ex, teacher = upstream
    inferred = TeacherInference().run({"examples": ex, "teacher": teacher}, str(root / "run"), log=lambda *_: None)
    artifact = TransferSet(name="TransferSetReuse", multiplier=3, beam_args=IN_MEMORY).run(
        {"examples": inferred, "teacher": teacher}, str(root / "run"), log=lambda *_: None)
    counters = artifact.metadata["results"]["counters"]
    records = read_records(artifact)
    assert len(records) == 120 and counters["logits_reused"] == 40 and counters["logits_computed"] == 80
    train, stored = read_split(inferred, "train", with_logits=True)
    by_text = dict(zip(train.texts, stored))
    originals = [r for r in records if not r["augmentations"]]
    assert len(originals) == 40
    for r in originals:  # bit for bit TeacherInference's logits: the teacher did not run again
        np.testing.assert_array_equal(r["logits"], by_text[r["text"]])
    model, preprocessor = load_teacher(teacher)
    copies = [r for r in records if r["augmentations"]]
    expected = batches.predict_logits(model, preprocessor, [r["text"] for r in copies])
    np.testing.assert_allclose(np.stack([r["logits"] for r in copies]), expected, atol=1e-4)


def test_unlabelled_documents_join_unaugmented_with_teacher_logits(upstream):
    root, ex, teacher = upstream
    unlabeled = root / "unlabeled.txt"
    extra = [text for _, text in make_docs(12, 7)]
    unlabeled.write_text("\n".join(extra + [ex_text(ex, 0)]) + "\n")  # the last one is also a train document
    with_unlabeled = ExampleGen(name="ExampleGenU", dataset="custom", data_dir=str(root / "data"),
                                unlabeled=str(unlabeled)).run({}, str(root / "run"), log=lambda *_: None)
    split, _ = read_split(with_unlabeled, "unlabeled")
    assert len(split) == 13 and not split.labeled.any() and not split.labels.any()
    artifact = TransferSet(name="TransferSetU", multiplier=3, beam_args=IN_MEMORY).run(
        {"examples": ex, "teacher": teacher, "unlabeled": with_unlabeled}, str(root / "run"), log=lambda *_: None)
    stats = artifact.metadata["results"]
    assert stats["records"] == 132 and stats["unlabeled_records"] == 12  # the duplicate keeps its labels
    train, logits = read_split(artifact, "train", with_logits=True)
    flags = dict(zip(train.texts, train.labeled))
    assert sorted(t for t, f in flags.items() if not f) == sorted(" ".join(t.split()) for t in extra)
    assert flags[ex_text(ex, 0)]
    model, preprocessor = load_teacher(teacher)
    rows = [i for i, f in enumerate(train.labeled) if not f]
    np.testing.assert_allclose(logits[rows], batches.predict_logits(model, preprocessor, [train.texts[i] for i in rows]),
                               atol=1e-4)
    assert not train.labels[rows].any()


def ex_text(artifact, i):
    return read_split(artifact, "train")[0].texts[i]


def test_a_documents_logits_do_not_depend_on_the_runinference_batch(upstream):
    root, ex, teacher = upstream
    train, _ = read_split(ex, "train")
    records = [{"text": t} for t in train.texts]
    handler = ts.TeacherModelHandler(teacher.path("teacher.keras"), teacher.path("preprocessor"), jit_compile=False)
    model = handler.load_model()
    whole = [r.inference for r in handler.run_inference(records, model)]
    pieces = [r.inference for start in range(0, len(records), 7)
              for r in handler.run_inference(records[start:start + 7], model)]
    np.testing.assert_array_equal(np.stack(whole), np.stack(pieces))  # fixed batch shapes: bit for bit
    assert [r.example for r in handler.run_inference(records[:5], model)] == records[:5]
    expected = batches.predict_logits(*load_teacher(teacher), train.texts)
    np.testing.assert_allclose(np.stack(whole), expected, atol=1e-4)
    # So the batch size is no part of the artifact's identity.
    inputs = {"examples": ex, "teacher": teacher}
    assert TransferSet(batch_size=7).fingerprint(inputs) == TransferSet().fingerprint(inputs)
    assert TransferSet(multiplier=2).fingerprint(inputs) != TransferSet().fingerprint(inputs)


def test_multiplier_one_is_the_train_split_with_logits(upstream):
    root, ex, teacher = upstream
    artifact = TransferSet(name="TransferSet1", multiplier=1, beam_args=IN_MEMORY).run(
        {"examples": ex, "teacher": teacher}, str(root / "run"), log=lambda *_: None)
    records = read_records(artifact)
    assert len(records) == 40 and not any(r["augmentations"] for r in records)  # the duplicate pair is one record


@pytest.mark.slow
def test_multi_process_runner_gives_the_same_records(upstream):
    root, ex, teacher = upstream
    kwargs = dict(multiplier=3, p_shuffle=1.0)
    single = TransferSet(name="single", beam_args=IN_MEMORY, **kwargs).run(
        {"examples": ex, "teacher": teacher}, str(root / "run"), log=lambda *_: None)
    multi = TransferSet(name="multi", beam_args=None, **kwargs).run(  # default: multi-processing workers
        {"examples": ex, "teacher": teacher}, str(root / "run"), log=lambda *_: None)
    key = lambda r: r["text"]  # noqa: E731
    a, b = sorted(read_records(single), key=key), sorted(read_records(multi), key=key)
    assert [r["text"] for r in a] == [r["text"] for r in b]
    np.testing.assert_allclose(np.stack([r["logits"] for r in a]), np.stack([r["logits"] for r in b]), atol=1e-5)


def test_dataflow_options_and_graph_build_without_network(upstream):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import GoogleCloudOptions, SetupOptions

    root, _, teacher = upstream
    try:  # gs:// paths need the `dataflow` extra (apache-beam[gcp]); the graph is the same with local ones
        import apache_beam.io.gcp.gcsfilesystem  # noqa: F401

        base = "gs://my-bucket/run"
    except ImportError:
        base = str(root / "run")
    options = beam_options([
        "--runner=DataflowRunner", "--project=my-project", "--region=europe-west4",
        "--temp_location=gs://my-bucket/tmp", "--setup_file=./setup.py",
    ])
    assert options.view_as(GoogleCloudOptions).project == "my-project"
    assert options.view_as(SetupOptions).setup_file == "./setup.py"
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, f"{base}/ExampleGen/Split-train/data_tfrecord-*.gz", 3, teacher.uri,
                   f"{base}/TransferSetDataflow/Split-train/data_tfrecord", 3, augment.AugmentConfig())
    names = [t.unique_name for t in pipeline.to_runner_api().components.transforms.values()]
    for step in ("ReadExamples", "TransferSet/Tag", "TransferSet/Augment", "TransferSet/DropDuplicates",
                 "TransferSet/TeacherLogits", "TransferSet/ToExample", "WriteExamples"):
        assert any(n.startswith(step) for n in names), step


@pytest.mark.slow  # the transfer set built three times
def test_benchmark_compares_batch_sizes_on_identical_records(upstream, tmp_path):
    from components.teacher_inference import TeacherInference
    from pipelines import benchmark_transfer_set

    root, ex, teacher = upstream
    TeacherInference().run({"examples": ex, "teacher": teacher}, str(root / "run"), log=lambda *_: None)
    result = benchmark_transfer_set.benchmark(str(root / "run"), [2, 64], rounds=1, beam_args=IN_MEMORY,
                                              log=lambda *_: None)
    small, large = result["rows"]
    assert result["dataset"] == "custom" and result["records_differing_from_first"] == {64: 0}
    assert small["records"] == large["records"] and small["teacher_word_pieces"] == large["teacher_word_pieces"] > 0
    assert small["teacher_slots"] > large["teacher_slots"] >= large["teacher_word_pieces"]  # 2 per batch: more padding
    assert len(small["seconds"]) == 1 and "| 64 |" in benchmark_transfer_set.format_result(result)


def test_the_teacher_reads_as_many_word_pieces_as_asked(upstream, tmp_path):
    root, ex, teacher = upstream
    # A copy of the teacher whose preprocessor says 12 word pieces: a teacher trained on 12 that can read 32.
    copy = teacher_trained_on(teacher, str(tmp_path / "teacher"), 12).uri
    texts = read_split(ex, "train")[0].texts
    records = [{"text": t} for t in texts]

    def logits(**kwargs):
        handler = ts.TeacherModelHandler(f"{copy}/teacher.keras", f"{copy}/preprocessor", jit_compile=False, **kwargs)
        return np.stack([r.inference for r in handler.run_inference(records, handler.load_model())])

    np.testing.assert_allclose(logits(sequence_length=32), batches.predict_logits(*load_teacher(teacher), texts),
                               atol=1e-4)
    assert not np.allclose(logits(), logits(sequence_length=32), atol=1e-3)
    inputs = {"examples": ex, "teacher": teacher}
    assert "teacher_sequence_length" not in TransferSet().fingerprint_parameters()
    assert TransferSet(teacher_sequence_length=32).fingerprint(inputs) != TransferSet().fingerprint(inputs)
    # The command-line job reads copies as the TeacherInference it is given read the originals.
    from components.teacher_inference import TeacherInference
    from pipelines import transfer_set as job

    logits = TeacherInference(splits=["dev"], sequence_length=32).run(inputs, str(tmp_path / "run"), log=lambda *_: None)
    assert job._examples_read_length(logits.uri) == 32
    assert job._examples_read_length(ex.uri) is None and job._examples_read_length(None) is None
