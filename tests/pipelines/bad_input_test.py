"""Bad input to the commands: one `error:` line naming the file:line or argument, exit 2, nothing written.

The commands run in-process (`main(argv)`) on tiny data the tests write; no
teacher is trained. Components after ExampleGen are replaced by fakes where a
test needs a run to get past them.
"""

import json
import os

import numpy as np
import pytest

from components.base import Component, ComponentSpec
from components.example_gen import ExampleGen
from components.student_trainer import StudentTrainer
from kdkeras.data import examples
from kdkeras.predict import Predictor
from pipelines import configs, pipeline, run
from pipelines import transfer_set as transfer_set_cli
from tests.helpers import TOPICS, make_docs, write_file, write_hedwig


def cli(main, argv, capsys):
    """`(exit status, non-empty stderr lines, stdout)` of an in-process command."""
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status, [line for line in out.err.splitlines() if line.strip()], out.out


def files_under(path):
    return sorted(os.path.relpath(os.path.join(d, f), path) for d, dirs, fs in os.walk(path) for f in dirs + fs)


def smoke(data_dir, out_dir, *extra):
    return ["--dataset", "custom", "--data-dir", str(data_dir), "--profile", "smoke", "--output-dir", str(out_dir),
            *extra]


def hedwig_dir(tmp_path, train=None, **splits):
    rows = make_docs(30) if train is None else train
    return write_hedwig(str(tmp_path / "data"), {"train": rows, "test": make_docs(5, 2), **splits})


def with_row(line_no, raw):
    """A train.tsv body with line `line_no` (1-based) replaced by `raw` bytes."""

    def write(tmp_path):
        d = hedwig_dir(tmp_path)
        path = os.path.join(d, "train.tsv")
        lines = open(path, "rb").read().splitlines(keepends=True)
        lines[line_no - 1] = raw
        open(path, "wb").write(b"".join(lines))
        return d

    return write


def short_labels_file(tmp_path):
    d = hedwig_dir(tmp_path)
    with open(os.path.join(d, "labels.txt"), "w") as f:
        f.write("grain\noil\n")
    return d


def jsonl_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "labels.txt").write_text("\n".join(TOPICS) + "\n")
    for split, n in (("train", 20), ("test", 5)):
        rows = [{"text": text, "labels": [name for name, bit in zip(TOPICS, bits) if bit == "1"]}
                for bits, text in make_docs(n)]
        if split == "train":
            rows[3]["labels"] = ["oil", "xyz"]
        (d / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(d)


def empty_dir(tmp_path):
    (tmp_path / "data").mkdir()
    return str(tmp_path / "data")


DATA_CASES = {
    "label bits of the wrong width": (with_row(7, b"1010\tfour bits\n"),
                                      "train.tsv:7: label field has 4 bits, expected 3"),
    "a row without a tab": (with_row(4, b"010 no tab here\n"), "train.tsv:4: no tab between label bits and text"),
    "empty text": (with_row(2, b"010\t   \n"), "train.tsv:2: empty text"),
    "bytes that are not UTF-8": (with_row(9, b"010\tcaf\xe9 au lait\n"),
                                 "train.tsv:9: not valid UTF-8 (invalid continuation byte at byte 7); re-save the "
                                 "file as UTF-8"),
    "labels.txt with fewer names than label bits": (short_labels_file, "labels.txt: names 2 classes, but "),
    "several bad rows": (with_row(3, b"11\tshort\n"), "train.tsv:3: label field has 2 bits, expected 3 ("
                         "--skip-bad-rows (on_bad_row='skip') skips and counts them)"),
    "a label name not in labels.txt": (jsonl_dir, "train.jsonl:4: label 'xyz' not in labels.txt (grain, oil, money)"),
    "a missing train split": (lambda t: write_hedwig(str(t / "data"), {"dev": make_docs(5), "test": make_docs(5)}),
                              "data: no train.tsv[.gz] or train.jsonl[.gz] (found: dev.tsv, labels.txt, test.tsv)"),
    "a missing test split": (lambda t: write_hedwig(str(t / "data"), {"train": make_docs(20)}),
                             "data: no test.tsv[.gz] or test.jsonl[.gz]; the test split is required"),
    "an empty data directory": (empty_dir, "data: data directory is empty"),
    "a data directory that does not exist": (lambda t: str(t / "nowhere"), "nowhere: data directory not found"),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_stops_the_run_with_one_line(case, tmp_path, capsys):
    make, message = DATA_CASES[case]
    data_dir = make(tmp_path)
    out_dir = tmp_path / "runs"
    status, err, _ = cli(run.main, smoke(data_dir, out_dir), capsys)
    assert status == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not out_dir.exists(), files_under(out_dir)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "nope"], "error: argument --dataset: invalid choice: 'nope'"),
        (["--dataset", "custom", "--run-id", "../escape"],
         "error: argument --run-id: run id '../escape' must be a plain directory name"),
        (["--dataset", "custom", "--run-id", "/tmp/abs"], "error: argument --run-id: run id '/tmp/abs'"),
        (["--dataset", "custom", "--students", "lstm,bert"], "error: argument --students: unknown student(s) ['bert']"),
        (["--dataset", "custom", "--profile", "huge"], "error: argument --profile: invalid choice: 'huge'"),
        (["--dataset", "custom"], "error: dataset 'custom' is not shipped with kdkeras; pass --data-dir DIR."),
    ],
)
def test_bad_arguments_are_one_line(argv, message, tmp_path, capsys):
    out_dir = tmp_path / "runs"
    status, err, _ = cli(run.main, argv + ["--output-dir", str(out_dir)], capsys)
    assert status == 2
    assert len(err) == 1 and err[0].startswith(message), err
    assert not out_dir.exists()


def test_teacher_folder_without_weights(tmp_path, capsys):
    hf = tmp_path / "bert"
    hf.mkdir()
    (hf / "config.json").write_text("{}")
    (hf / "vocab.txt").write_text("[PAD]\n")
    (hf / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    out_dir = tmp_path / "runs"
    status, err, _ = cli(run.main, smoke(hedwig_dir(tmp_path), out_dir, "--teacher", str(hf)), capsys)
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {hf}: teacher folder has no weights (expected model.safetensors")
    assert "pytorch_model.bin is never read" in err[0]
    assert not out_dir.exists()
    status, err, _ = cli(run.main, smoke(hedwig_dir(tmp_path), out_dir, "--teacher", str(tmp_path / "gone")), capsys)
    assert status == 2 and err == [f"error: {tmp_path / 'gone'}: teacher backbone folder not found"]
    assert not out_dir.exists()


def test_transfer_set_teacher_without_weights(tmp_path, capsys):
    teacher = tmp_path / "TeacherTrainer"
    teacher.mkdir()
    (teacher / "metadata.json").write_text("{}")
    out_dir = tmp_path / "out"
    argv = ["--dataset", "custom", "--data-dir", hedwig_dir(tmp_path), "--teacher", str(teacher),
            "--output", str(out_dir)]
    status, err, _ = cli(transfer_set_cli.main, argv, capsys)
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {teacher}: no teacher.keras (teacher weights and preprocessor)")
    assert not out_dir.exists()
    status, err, _ = cli(transfer_set_cli.main, argv[:-3] + [str(tmp_path), "--output", str(out_dir)], capsys)
    assert status == 2 and err[0].startswith(f"error: {tmp_path}: no teacher.keras")


def test_transfer_set_bad_data(tmp_path, capsys):
    data = with_row(3, b"11\tshort\n")(tmp_path)
    teacher = tmp_path / "TeacherTrainer"
    (teacher / "preprocessor").mkdir(parents=True)
    for name in ("metadata.json", "teacher.keras", "preprocessor/preprocessor.json"):
        (teacher / name).write_text("{}")
    out_dir = tmp_path / "out"
    argv = ["--dataset", "custom", "--data-dir", data, "--teacher", str(teacher), "--output", str(out_dir)]
    status, err, _ = cli(transfer_set_cli.main, argv, capsys)
    assert status == 2 and len(err) == 1 and "train.tsv:3: label field has 2 bits, expected 3" in err[0], err
    assert not out_dir.exists()


def truncate_shard(split_dir):
    [shard] = examples.shard_files(split_dir)
    data = open(shard, "rb").read()
    open(shard, "wb").write(data[: len(data) // 2])
    return shard


def test_truncated_shard_names_the_file(tmp_path, capsys):
    out_dir = tmp_path / "runs"
    data = hedwig_dir(tmp_path, train=make_docs(150))
    run_dir = out_dir / "custom" / "smoke"
    max_docs = configs.build_config("custom", True, "smoke")["max_docs"]  # as the run's ExampleGen, so it is reused
    ExampleGen(dataset="custom", data_dir=data, max_docs=max_docs).run({}, str(run_dir), log=lambda *_: None)
    shard = truncate_shard(str(run_dir / "ExampleGen" / "Split-train"))
    before = files_under(out_dir)
    # The run reuses the finished ExampleGen; the teacher fails reading its truncated shard.
    status, err, _ = cli(run.main, smoke(data, out_dir), capsys)
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {shard}: corrupt or truncated TFRecord shard (")
    assert files_under(out_dir) == before  # no report, no half-written TeacherTrainer, no empty work dir


def test_corrupt_shard_of_teacher_logits_names_the_file(tmp_path):
    from components.artifacts import read_split
    from kdkeras.data.hedwig import DataError

    artifact = ExampleGen(dataset="custom", data_dir=hedwig_dir(tmp_path)).run({}, str(tmp_path / "run"),
                                                                            log=lambda *_: None)
    [shard] = examples.shard_files(artifact.path("Split-dev"))
    write_file(shard, b"\x00" * 64, gz=True)  # gzip, but not TFRecords
    with pytest.raises(DataError, match=f"^{shard}: corrupt or truncated TFRecord shard"):
        read_split(artifact, "dev")
    with pytest.raises(DataError, match=r"Split-test/data_tfrecord-00000-of-00001\.gz: records do not match"):
        read_split(artifact, "test", with_logits=True)  # ExampleGen records have no teacher logits


# Components after ExampleGen, faked: the tests need a run to reach the report without training anything.
class _Fake(Component):
    SPEC = ComponentSpec(optional_inputs=("examples", "teacher", "transfer_set", "teacher_logits", "students",
                                          "baselines", "exports", "evaluation"))
    RESULTS = {}
    FAIL = None

    def __init__(self, name=None, **parameters):
        self.name = name or type(self).__name__
        self.parameters = parameters

    def execute(self, inputs, output_dir, work_dir):
        if self.FAIL:
            raise self.FAIL
        return self.RESULTS


def fake(name, **attrs):
    return type(name, (_Fake,), attrs)


ROW = {"dev": 50.0, "test": 40.0, "params": 10}


@pytest.fixture
def fake_components(monkeypatch):
    monkeypatch.setattr(pipeline, "Pusher", fake("Pusher"))
    monkeypatch.setattr(pipeline, "TeacherInference", fake("TeacherInference", RESULTS={
        "teacher_micro_f1": {"train": 60.0, "dev": 50.0, "test": 40.0}}))
    trained = {"dev_score": 50.0, "params": 10}
    monkeypatch.setattr(pipeline, "TeacherTrainer", fake("TeacherTrainer", RESULTS=trained))
    monkeypatch.setattr(pipeline, "StudentTrainer", fake("StudentTrainer", RESULTS=trained,
                                                         solves_exactly=staticmethod(StudentTrainer.solves_exactly)))
    monkeypatch.setattr(pipeline, "Baselines", fake("Baselines", RESULTS={"svm": ROW}))
    monkeypatch.setattr(pipeline, "Evaluator", fake("Evaluator", RESULTS={"metric": "micro_f1",
                                                                          "models": {"teacher": ROW}}))
    monkeypatch.setattr(pipeline, "Exporter", fake("Exporter", RESULTS={"saved_models": {}}))
    monkeypatch.setattr(run.cli, "jobs", lambda requested=None, **kwargs: 1)  # workers would not see these classes


def test_failure_after_example_gen_writes_no_report(tmp_path, capsys, fake_components, monkeypatch):
    from kdkeras.data.hedwig import DataError

    monkeypatch.setattr(pipeline, "TeacherInference", fake("TeacherInference", FAIL=DataError("x.gz: broken")))
    out_dir = tmp_path / "runs"
    status, err, _ = cli(run.main, smoke(hedwig_dir(tmp_path), out_dir, "--students", "lr"), capsys)
    assert status == 2 and err == ["error: x.gz: broken"]
    run_dir = out_dir / "custom" / "smoke"
    # Finished artifacts stay (complete, reused by the next run); nothing half-written, no report.
    assert sorted(os.listdir(run_dir)) == ["ExampleGen", "TeacherTrainer"]


def test_skip_bad_rows_counts_and_reports(tmp_path, capsys, fake_components):
    train, dev = make_docs(30), make_docs(10, 1)
    train[4] = ("1010", train[4][1])
    train[9] = ("010", "")
    dev[2] = ("0x0", dev[2][1])
    data = write_hedwig(str(tmp_path / "data"), {"train": train, "dev": dev, "test": make_docs(5, 2)})
    out_dir = tmp_path / "runs"
    status, err, _ = cli(run.main, smoke(data, out_dir, "--students", "lr"), capsys)
    assert status == 2 and len(err) == 1 and "train.tsv:5: label field has 4 bits" in err[0]
    assert not out_dir.exists()
    status, err, out = cli(run.main, smoke(data, out_dir, "--students", "lr", "--skip-bad-rows"), capsys)
    assert status == 0, err
    run_dir = out_dir / "custom" / "smoke"
    meta = os.path.join(run_dir, "ExampleGen", "metadata.json")
    assert f"skipped 3 bad rows (train: 2, dev: 1) — see {meta}" in out
    results = json.load(open(meta))["results"]
    skipped = results["skipped_rows"]
    assert skipped["total"] == 3 and skipped["splits"] == {"train": 2, "dev": 1, "test": 0}
    assert skipped["reasons"] == {"label width": 1, "empty text": 1, "label bits": 1}
    assert skipped["examples"] == [f"{data}/train.tsv:5: label field has 4 bits, expected 3",
                                   f"{data}/train.tsv:10: empty text",
                                   f"{data}/dev.tsv:3: label field '0x0' is not a string of 0/1 bits"]
    assert results["rows"] == {"train": 28, "dev": 9, "test": 5}
    assert json.load(open(meta))["parameters"]["skip_bad_rows"] is True
    report = json.load(open(run_dir / "report.json"))
    assert report["skipped_rows"] == {"total": 3, "splits": {"train": 2, "dev": 1, "test": 0},
                                      "reasons": {"label width": 1, "empty text": 1, "label bits": 1}}


def test_skip_bad_rows_enters_the_fingerprint(tmp_path):
    data = hedwig_dir(tmp_path)
    plain, skipping = ExampleGen(dataset="custom", data_dir=data), ExampleGen(dataset="custom", data_dir=data,
                                                                              skip_bad_rows=True)
    assert plain.fingerprint({}) != skipping.fingerprint({})
    assert "skip_bad_rows" not in plain.fingerprint_parameters()  # runs from before the option keep their fingerprint


@pytest.mark.parametrize(
    "texts, error, message",
    [
        ([1, 2], TypeError, "texts[0]: expected a string, got int"),
        (["ok", None], TypeError, "texts[1]: expected a string, got NoneType"),
        ([["nested", "list"]], TypeError, "texts[0]: expected a string, got list"),
        (42, TypeError, "texts: expected a string or a list of strings, got int"),
        ({"a": 1}, TypeError, "texts: expected a string or a list of strings, got dict"),
        ([b"caf\xe9 au lait"], ValueError, "texts[0]: bytes are not valid UTF-8 (invalid continuation byte at byte 3)"),
        (["bad \udcff surrogate"], ValueError, "texts[0]: not valid UTF-8 text"),
        (np.array([["a", "b"]]), ValueError, "texts: expected a 1-D batch of strings, got an array of shape (1, 2)"),
    ],
)
def test_wrong_input_type_at_serving_time(texts, error, message):
    predictor = Predictor(lambda batch: np.full((len(batch), 3), 0.7, "float32"), list(TOPICS), multi_label=True)
    for method in (predictor.predict, predictor.predict_proba):
        with pytest.raises(error) as raised:
            method(texts)
        assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    # What is accepted: one string, UTF-8 bytes, a list, a tuple or a 1-D array of strings.
    assert len(predictor.predict("one")) == 1 and len(predictor.predict((b"wheat", np.str_("oil")))) == 2
    assert predictor.predict_proba(np.array(["a", "b"])).shape == (2, 3)


def test_predict_cli_refuses_text_that_is_not_utf8(tmp_path, capsys):
    from kdkeras import predict

    status, err, _ = cli(predict.main, [str(tmp_path / "missing"), "ok", "bad \udcff"], capsys)
    assert status == 2 and err == ["python -m kdkeras.predict: error: texts[1]: not valid UTF-8 text "
                                   "(surrogates not allowed at character 4)"]


def test_sweep_names_cannot_leave_the_run(tmp_path, capsys):
    from pipelines import sweep

    run_dir = tmp_path / "run"
    for name in ("ExampleGen", "TeacherInference", "TeacherTrainer"):
        (run_dir / name).mkdir(parents=True)
        (run_dir / name / "metadata.json").write_text(json.dumps({"fingerprint": name, "parameters": {}}))
    (run_dir / "report.json").write_text(json.dumps({"config": configs.build_config("custom", True, "smoke")}))
    before = files_under(tmp_path)
    for extra, message in (
        (["--name", "../../escape"], "error: sweep name '../../escape' must be a plain directory name"),
        (["--vary", "word_vectors=/data/glove.txt,random"], "error: component name 'StudentTrainer.lstm.word_vectors"),
    ):
        argv = ["--run-dir", str(run_dir), "--vary", "alpha=1", *extra]
        status, err, _ = cli(sweep.main, argv, capsys)
        assert status == 2 and len(err) == 1 and err[0].startswith(message), err
    assert files_under(tmp_path) == before


def test_an_output_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    data_dir = hedwig_dir(tmp_path)
    target = tmp_path / "runs"
    target.write_text("not a folder")
    for out_dir, message in ((target, "--output-dir is a file, not a folder"),
                             (target / "sub", "--output-dir is inside a file")):
        status, err, _ = cli(run.main, smoke(data_dir, out_dir), capsys)
        assert status == 2 and len(err) == 1 and err[0] == f"error: {out_dir}: {message}" + (
            f" ({target}), not a folder" if "inside" in message else ""), err
    assert target.read_text() == "not a folder"
