"""End-to-end runs of the CLI on tiny data the tests write."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from kdkeras import names
from pipelines import benchmark_predict, configs, run, sweep
from tests.helpers import make_docs, write_hedwig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args):
    # As a user runs it: the default (quiet) console.
    env = {k: v for k, v in os.environ.items() if k not in ("KDKERAS_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.run", *args], cwd=ROOT, capture_output=True, text=True, timeout=1500, env=env,
    )


CHATTER = ("cuInit", "absl::InitializeLog", "oneDNN custom operations", "apitools not found", "tf.function retracing",
           "fully_quantize")


def test_help_lists_all_datasets():
    out = cli("--help")
    assert out.returncode == 0
    for name in ("reuters", "aapd", "imdb", "yelp", "custom", "--data-dir", "--output-dir", "smoke"):
        assert name in out.stdout


@pytest.mark.slow
def test_smoke_run_end_to_end(toy_dir, tmp_path):
    out_dir = str(tmp_path / "runs")
    result = cli("--dataset", "custom", "--data-dir", toy_dir, "--profile", "smoke", "--output-dir", out_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [c for c in CHATTER if c in result.stderr + result.stdout], result.stderr[-3000:]
    run_dir = os.path.join(out_dir, "custom", "smoke")
    report = json.load(open(os.path.join(run_dir, "report.json")))
    assert report["dataset"] == "custom" and report["metric"] == "micro_f1" and report["profile"] == "smoke"
    students = set(names.STUDENTS)
    assert set(report["models"]) == {"teacher", "svm", "sklearn_lr"} | students | {"kd_" + s for s in students}
    for row in report["models"].values():
        assert 0 <= row["dev"] <= 100 and 0 <= row["test"] <= 100 and row["params"] > 0
    assert report["models"]["kd_lstm"]["test_runs"] == [report["models"]["kd_lstm"]["test"]]
    assert "kd_lstm" in result.stdout and "teacher" in result.stdout
    components = ["ExampleGen", "TeacherTrainer", "TeacherInference", "Baselines", "Evaluator", "Exporter", "Pusher"]
    components += [f"StudentTrainer.{s}.seed0" for s in students] + [f"StudentTrainer.kd_{s}.alpha1.seed0" for s in students]
    # λ is chosen per student on dev from the smoke grid (0, 1); λ = 0 is the plain student itself.
    for s in students:
        choice = report["distillation"]["kd_" + s]
        assert choice["alpha_grid"] == [0.0, 1.0] and choice["alpha"] in (0.0, 1.0) and not choice["fixed"]
        dev = choice["dev_by_alpha"]
        assert choice["alpha"] == (1.0 if dev["1"] > dev["0"] else 0.0)
        if choice["alpha"] == 0:
            assert report["models"]["kd_" + s]["dev_runs"] == report["models"][s]["dev_runs"]
    check = report["teacher_check"]
    assert set(check["dev"]) == students | {"svm", "sklearn_lr"}
    assert check["teacher_dev"] == pytest.approx(report["models"]["teacher"]["dev"])  # the logits students learn from
    assert sorted(check["below_teacher"] + check["not_below_teacher"]) == sorted(check["dev"])
    for component in components:
        meta = json.load(open(os.path.join(run_dir, component, "metadata.json")))
        assert meta["name"] == component and meta["fingerprint"]
    # The exported SavedModels take raw strings and return probabilities.
    for student in students:
        saved = tf.saved_model.load(os.path.join(run_dir, "Exporter", "kd_" + student, "saved_model"))
        probs = saved.signatures["serving_default"](texts=tf.constant(["crude oil barrels", "wheat harvest"]))
        probs = probs["probabilities"].numpy()
        assert probs.shape == (2, 3) and ((probs >= 0) & (probs <= 1)).all()
        bundle = os.path.join(run_dir, "Exporter", "kd_" + student)
        for name in ("model.tflite", "model_int8.tflite", "model_card.md", "serving.json", "labels.txt"):
            assert os.path.exists(os.path.join(bundle, name)), name
        formats = json.load(open(os.path.join(bundle, "formats.json")))
        assert formats["tflite"]["agreement_with_keras"] >= 0.99 and formats["saved_model"]["agreement_with_keras"] == 1
        # The model card's headline is the exported model's score on the whole test split, as in the report.
        full = formats["keras"]["test_all"]
        assert full == pytest.approx(report["models"]["kd_" + student]["test"]) and formats["keras"]["test_documents"] == 40
        card = open(os.path.join(bundle, "model_card.md")).read()
        assert f"**Test micro_f1: {full:.2f} %** on all 40 test documents (this model, Keras); dev " in card
        # ... and, beside it, on the label sets the bundle serves (at least one label per document).
        served = formats["keras"]["test_all_served"]
        assert 0 <= served <= 100 and "the label sets the bundle serves" in card and f"{served:.2f} %" in card
    # The first push of each distilled student is blessed and served as version 1.
    for student in students:
        assert os.path.exists(os.path.join(out_dir, "custom", "serving", "kd_" + student, "1", "saved_model"))
    # The benchmark measures the teacher and every exported student in each format.
    bench = subprocess.run([sys.executable, "-m", "pipelines.benchmark", "--run-dir", run_dir, "--docs", "8"],
                           cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert bench.returncode == 0, bench.stderr[-3000:]
    result = json.load(open(os.path.join(run_dir, "benchmark.json")))
    assert set(result["models"]) == {"teacher", "svm", "sklearn_lr"} | {"kd_" + s for s in students}
    assert set(result["plain_students"]) == students
    assert result["machine"]["tflite_latency_without_tensorflow"]  # .tflite timed as on a device
    for name, row in result["models"].items():
        assert row["params"] > 0 and row["docs_per_s"] > 0 and row["latency_ms"] > 0 and row["test"] is not None
        if name in ("svm", "sklearn_lr"):  # timed with their vectorizer
            assert set(row["formats"]) == {"sklearn"}
            continue
        assert row["flops_per_doc"] > 0 and "keras" in row["formats"]
        assert name == "teacher" or {"saved_model", "tflite"} <= set(row["formats"])
        assert row["model_ms"] > 0 and row["tokenise_ms"] >= 0  # the model alone, tokenisation timed apart
    assert os.path.getsize(os.path.join(run_dir, "quality_vs_cost.png")) > 10_000
    assert result["models"]["teacher"]["flops_per_doc"] > result["models"]["kd_lr"]["flops_per_doc"]
    assert result["machine"]["matmul_gflops_all_threads"] > 0
    # Bulk prediction from a file, per student and format.
    rows = benchmark_predict.measure(run_dir, batch_size=16, cli_runs=False, log=lambda *_: None)
    assert {(r["student"], r["format"]) for r in rows} >= {("kd_" + s, f) for s in students
                                                           for f in ("saved_model", "tflite", "tflite_int8")}
    assert all(r["documents"] == 40 and r["docs_per_s"] > 0 for r in rows)
    # A second run reuses every artifact and reproduces the report.
    again = cli("--dataset", "custom", "--data-dir", toy_dir, "--profile", "smoke", "--output-dir", out_dir)
    assert again.returncode == 0 and again.stdout.count("up to date") == len(components)
    assert json.load(open(os.path.join(run_dir, "report.json")))["models"] == report["models"]
    # More seeds: students get mean ± std over runs.
    seeds = cli("--dataset", "custom", "--data-dir", toy_dir, "--profile", "smoke", "--output-dir", out_dir,
                "--students", "lstm", "--seeds", "2", "--no-baselines", "--run-id", "seeds")
    assert seeds.returncode == 0, seeds.stderr[-3000:]
    models = json.load(open(os.path.join(out_dir, "custom", "seeds", "report.json")))["models"]
    row, report_teacher = models["kd_lstm"], models["teacher"]
    assert len(row["test_runs"]) == 2 and row["test_mean"] == sum(row["test_runs"]) / 2 and row["test_std"] >= 0
    # A sweep over the finished run trains only students, one per value and seed.
    run_dir = os.path.join(out_dir, "custom", "seeds")
    out = subprocess.run([sys.executable, "-m", "pipelines.sweep", "--run-dir", run_dir, "--student", "lstm",
                          "--vary", "alpha=0,2", "--seeds", "2", "--set", "updates=1", "--jobs", "2"],  # workers
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.load(open(os.path.join(run_dir, "sweeps", "kd_lstm-alpha", "sweep.json")))
    assert result["values"] == [0, 2] and [len(r["test_runs"]) for r in result["runs"]] == [2, 2]
    assert os.path.exists(os.path.join(run_dir, "sweeps", "kd_lstm-alpha", "sweep.png"))
    history = json.load(open(os.path.join(run_dir, "sweeps", "kd_lstm-alpha", "StudentTrainer.lstm.alpha2.seed1",
                                          "history.json")))
    assert len(history["history"]["loss"]) == 1
    assert "alpha" in out.stdout and "teacher" in out.stdout
    # A teacher sweep retrains the teacher per value, reusing the run's own for its value.
    out = subprocess.run([sys.executable, "-m", "pipelines.sweep", "--run-dir", run_dir, "--teacher",
                          "--vary", "sequence_length=16,32"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    sweep_dir = os.path.join(run_dir, "sweeps", "teacher-sequence_length")
    result = json.load(open(os.path.join(sweep_dir, "sweep.json")))
    assert result["model"] == "teacher" and result["values"] == [16, 32]
    teachers = os.path.join(run_dir, "sweeps", "teachers")
    assert os.path.isdir(os.path.join(teachers, "TeacherTrainer.sequence_length16.seed0"))
    assert not os.path.exists(os.path.join(teachers, "TeacherTrainer.sequence_length32.seed0"))  # the run's own
    assert result["runs"][1]["test_runs"] == [pytest.approx(report_teacher["test"])]
    assert not os.path.exists(os.path.join(teachers, "TeacherInference.sequence_length16.seed0", "Split-train"))
    # An inference-length sweep reads with the run's teacher (trained on 32 word pieces: reading 16 reads 32).
    out = subprocess.run([sys.executable, "-m", "pipelines.sweep", "--run-dir", run_dir, "--teacher",
                          "--vary", "inference_length=16"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.load(open(os.path.join(run_dir, "sweeps", "teacher-inference_length", "sweep.json")))
    assert result["runs"][0]["test_runs"] == [pytest.approx(report_teacher["test"])]
    assert os.path.isdir(os.path.join(teachers, "TeacherInference.run.inference_length16.seed0"))
    assert sorted(d for d in os.listdir(teachers) if d.startswith("TeacherTrainer")) == [
        "TeacherTrainer.sequence_length16.seed0"]


@pytest.mark.slow
def test_transfer_set_feeds_the_distilled_students(toy_dir, tmp_path):
    out_dir = str(tmp_path / "runs")
    result = cli("--dataset", "custom", "--data-dir", toy_dir, "--profile", "smoke", "--output-dir", out_dir,
                 "--students", "lr", "--no-baselines", "--augment-multiplier", "2", "--teacher-inference-length", "64",
                 "--beam-args", "--runner=DirectRunner --direct_running_mode=in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = os.path.join(out_dir, "custom", "smoke")
    # The teacher's logits, for the originals and the copies alike, read the length asked for.
    inference = json.load(open(os.path.join(run_dir, "TeacherInference", "metadata.json")))
    transfer = json.load(open(os.path.join(run_dir, "TransferSet", "metadata.json")))
    assert inference["parameters"]["sequence_length"] == transfer["parameters"]["teacher_sequence_length"] == 64
    stats = json.load(open(os.path.join(run_dir, "TransferSet", "transfer_set.json")))
    assert stats["counters"]["documents_read"] == 160 and 160 < stats["records"] <= 320
    kd = json.load(open(os.path.join(run_dir, "StudentTrainer.kd_lr.alpha1.seed0", "metadata.json")))
    plain = json.load(open(os.path.join(run_dir, "StudentTrainer.lr.seed0", "metadata.json")))
    assert kd["inputs"]["transfer_set"].endswith("TransferSet") and "transfer_set" not in plain["inputs"]


@pytest.mark.slow
def test_unlabelled_documents_reach_the_distilled_students(toy_dir, tmp_path):
    out_dir = str(tmp_path / "runs")
    unlabeled = tmp_path / "more.jsonl"
    unlabeled.write_text("".join(json.dumps({"text": text}) + "\n" for _, text in make_docs(40, 9)))
    result = cli("--dataset", "custom", "--data-dir", toy_dir, "--profile", "smoke", "--output-dir", out_dir,
                 "--students", "lstm,lr", "--no-baselines", "--unlabeled", str(unlabeled),
                 "--beam-args", "--runner=DirectRunner --direct_running_mode=in_memory")
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = os.path.join(out_dir, "custom", "smoke")
    stats = json.load(open(os.path.join(run_dir, "TransferSet", "transfer_set.json")))
    assert stats["unlabeled_records"] == 40 and stats["records"] == 200  # multiplier 1: train + unlabelled
    for student in ("lstm", "lr"):
        kd = json.load(open(os.path.join(run_dir, f"StudentTrainer.kd_{student}.alpha1.seed0", "metadata.json")))
        assert kd["results"]["train_records"] == 200
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\n\xff\n")
    result = cli("--dataset", "custom", "--data-dir", toy_dir, "--profile", "smoke", "--output-dir", out_dir,
                 "--run-id", "bad", "--unlabeled", str(bad))
    assert result.returncode == 2 and "bad.txt:2: not valid UTF-8" in result.stderr
    assert not os.path.exists(os.path.join(out_dir, "custom", "bad"))


def test_malformed_row_stops_run_naming_file_and_line(tmp_path):
    rows = make_docs(30)
    rows[6] = ("1010", rows[6][1])
    data = write_hedwig(str(tmp_path / "bad"), {"train": rows, "test": make_docs(5)})
    out_dir = tmp_path / "runs"
    result = cli("--dataset", "custom", "--data-dir", data, "--profile", "smoke", "--output-dir", str(out_dir))
    assert result.returncode == 2
    assert "train.tsv:7: label field has 4 bits, expected 3" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out_dir.exists() or not any(out_dir.rglob("report.json"))
    assert not any(out_dir.rglob("metadata.json")) if out_dir.exists() else True


def test_unshipped_dataset_without_data_is_a_clear_error(tmp_path):
    result = cli("--dataset", "yelp", "--profile", "smoke", "--output-dir", str(tmp_path))
    assert result.returncode == 2 and "--data-dir" in result.stderr and "Traceback" not in result.stderr


def test_freezing_more_layers_than_the_backbone_has_names_the_flag(toy_dir, tmp_path):
    # The tiny backbone has 2 layers; the quick profile's 3 frozen layers would not fit such a backbone either.
    result = cli("--dataset", "custom", "--data-dir", toy_dir, "--profile", "smoke", "--teacher-frozen-layers", "3",
                 "--output-dir", str(tmp_path / "runs"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "frozen layers must be between 0 and the backbone's 2, got 3 (set --teacher-frozen-layers)" in result.stderr
    assert not any((tmp_path / "runs").rglob("TeacherTrainer*/metadata.json"))


def test_configs_follow_the_paper():
    reuters = configs.build_config("reuters", True, "paper")
    # λ is chosen on dev from a grid holding 0 and the paper's λ (1 multi-label, 4 single-label) unless fixed.
    assert reuters["alpha"] is None and reuters["alpha_grid"][0] == 0 and 1.0 in reuters["alpha_grid"]
    assert reuters["paper"]["alpha"] == 1.0 and reuters["teacher"]["epochs"] == 30
    assert reuters["teacher"]["sequence_length"] == 512 and reuters["student"]["batch_size"] == 128
    assert reuters["teacher"]["learning_rate"] == 2e-5 and reuters["teacher"]["batch_size"] == 16
    imdb = configs.build_config("imdb", False, "paper")
    assert imdb["paper"]["alpha"] == 4.0 and 4.0 in imdb["alpha_grid"] and imdb["teacher"]["epochs"] == 4 and imdb["student"]["batch_size"] == 64
    assert configs.build_config("yelp", False, "paper")["teacher"]["epochs"] == 1
    quick = configs.build_config("reuters", True, "quick", {"teacher": {"epochs": 5}, "alpha": 2.0})
    assert quick["teacher"]["epochs"] == 5 and quick["alpha"] == 2.0
    assert quick["augment_multiplier"] == 3  # the quick profile distils on the paper's transfer set
    # Quick: 0 and a quarter of the paper's λ multi-label; also the paper's λ single-label.
    assert quick["alpha_grid"] == [0.0, 0.25]
    assert configs.build_config("imdb", False, "quick")["alpha_grid"] == [0.0, 1.0, 4.0]
    # The quick reg-LSTM takes 1,800 updates, except on IMDB's 400 words and in the reference profile.
    assert quick["students"]["lstm"]["updates"] == 1800 and quick["students"]["kimcnn"]["updates"] == 600
    assert configs.build_config("imdb", False, "quick")["students"]["lstm"]["updates"] == 600
    assert configs.build_config("reuters", True, "reference")["students"]["lstm"]["updates"] == 600
    assert configs.build_config("reuters", True, "quick", {"alpha_grid": [2.0]})["alpha_grid"] == [0.0, 2.0]
    assert quick["students"]["boe"]["sequence_length"] == 400 and quick["student"]["sequence_length"] == 120
    longer = configs.build_config("imdb", False, "quick", {"student": {"sequence_length": 600}})
    assert longer["student"]["sequence_length"] == 600 and "sequence_length" not in longer["students"]["boe"]
    # IMDB's long reviews: the reg-LSTM reads 400 words unless one length is asked for every student.
    assert configs.build_config("imdb", False, "quick")["students"]["lstm"]["sequence_length"] == 400
    assert "sequence_length" not in longer["students"]["lstm"]
    assert "sequence_length" not in quick["students"]["lstm"] and "sequence_length" not in (
        configs.build_config("imdb", False, "paper")["students"]["lstm"])
    args = run.parser().parse_args(["--dataset", "imdb", "--student-sequence-length", "600"])
    assert args.student_sequence_length == 600
    reference = configs.build_config("reuters", True, "reference")
    assert reference["seeds"] == 3 and reference["teacher"]["sequence_length"] == 128
    assert reference["alpha_grid"] == [0.0, 0.25, 1.0, 4.0] and reference["augment_multiplier"] == 3
    assert configs.build_config("imdb", False, "reference")["alpha_grid"] == [0.0, 1.0, 4.0, 16.0]
    assert configs.build_config("reuters", True, "paper")["alpha_grid"] == [0.0, 1.0, 4.0]
    assert configs.build_config("reuters", True, "reference", {"seeds": 1})["seeds"] == 1
    with pytest.raises(ValueError):
        configs.build_config("reuters", True, "huge")
    assert run.parser().parse_args(["--dataset", "reuters"]).profile == "quick"


def test_teacher_overrides_reach_the_run_config():
    from kdkeras.data import registry

    spec = registry.get_dataset("reuters")
    args = run.parser().parse_args(["--dataset", "reuters", "--teacher-freeze-embeddings", "--teacher-frozen-layers", "3",
                                    "--teacher-dropout", "0", "--teacher-cache-frozen"])
    teacher = run.run_config(args, spec)["teacher"]
    assert (teacher["freeze_embeddings"], teacher["frozen_layers"], teacher["backbone_dropout"]) == (True, 3, 0.0)
    assert teacher["cache_frozen"] is True
    default_config = run.run_config(run.parser().parse_args(["--dataset", "reuters"]), spec)
    default = default_config["teacher"]
    assert (default["freeze_embeddings"], default["frozen_layers"], default["epochs"]) == (True, 4, 6)  # quick's
    assert "backbone_dropout" not in default and "cache_frozen" not in default  # the trainer's defaults
    args = run.parser().parse_args(["--dataset", "reuters", "--no-teacher-freeze-embeddings", "--teacher-frozen-layers",
                                    "0", "--teacher-epochs", "2"])
    everything = run.run_config(args, spec)["teacher"]
    assert (everything["freeze_embeddings"], everything["frozen_layers"], everything["epochs"]) == (False, 0, 2)
    assert run.run_config(run.parser().parse_args(["--dataset", "reuters", "--lr-max-tokens", "30000"]),
                          spec)["students"]["lr"]["max_tokens"] == 30000
    assert default_config["students"]["lr"]["max_tokens"] == 5000  # quick's
    reference = run.run_config(run.parser().parse_args(["--dataset", "reuters", "--profile", "reference"]), spec)
    assert not {"freeze_embeddings", "frozen_layers"} & set(reference["teacher"])


def test_teacher_inference_length_follows_the_profile_and_the_flag():
    from kdkeras.data import registry
    from pipelines import pipeline

    spec = registry.get_dataset("reuters")

    def reads(*argv):
        return pipeline.teacher_inference_length(run.run_config(run.parser().parse_args(["--dataset", "reuters",
                                                                                         *argv]), spec))

    assert reads() == 128  # quick: trained on 64 word pieces, reads 128
    assert reads("--teacher-sequence-length", "256") is None  # never shorter than it trained on
    assert reads("--teacher-windows", "2") is None  # windows are read at the training length
    assert reads("--teacher-inference-length", "256") == 256
    assert reads("--profile", "reference") is None
    with pytest.raises(SystemExit):
        run.main(["--dataset", "reuters", "--teacher-windows", "2", "--teacher-inference-length", "256"])


def test_sweep_arguments():
    assert sweep.parse_assignment("alpha=0,0.5,true,random") == ("alpha", [0, 0.5, True, "random"])
    with pytest.raises(Exception):
        sweep.parse_assignment("alpha")
    config = configs.build_config("reuters", True, "quick")
    params = sweep.student_settings(config, "lstm", True, {"hidden_dim": 32, "alpha": 4.0})
    assert params["hparams"]["hidden_dim"] == 32 and params["alpha"] == 4.0 and params["distill"]
    assert config["students"]["lstm"]["hparams"]["hidden_dim"] == 96  # the run's config is not changed


def test_sweep_without_a_run_is_a_clear_error(tmp_path, capsys):
    assert sweep.main(["--run-dir", str(tmp_path), "--vary", "alpha=1"]) == 2
    assert "pipelines.run" in capsys.readouterr().err
