"""The serving bundle, the Predictor API and the `python -m kdkeras.predict` CLI."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from kdkeras.export import export_saved_model
from kdkeras.predict import Predictor, ServingError, main, write_serving_assets
from kdkeras.tflite import export_tflite
from tests.helpers import TOPICS, train_toy_student

ROOT = os.path.join(os.path.dirname(__file__), "..")
OIL = "crude oil barrels opec refinery pipeline"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("bundle"))
    student, tokenizer, _ = train_toy_student("lr")
    export_saved_model(student, tokenizer, True, os.path.join(directory, "saved_model"))
    export_tflite(student, tokenizer, True, os.path.join(directory, "model.tflite"))
    write_serving_assets(directory, tokenizer, list(TOPICS), multi_label=True)
    return directory


def cli(*args, check_no_tensorflow=False):
    """Runs `python -m kdkeras.predict ARGS` (optionally asserting TensorFlow stayed unimported)."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['kdkeras.predict', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('kdkeras.predict', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as e:\n    status = e.code\n"
        f"if {check_no_tensorflow} and 'tensorflow' in sys.modules:\n    sys.exit('tensorflow was imported')\n"
        "sys.exit(status)\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_bundle_layout(bundle):
    assert sorted(os.listdir(bundle)) == ["labels.txt", "model.tflite", "saved_model", "serving.json", "tokenizer"]
    assert open(os.path.join(bundle, "labels.txt")).read().split() == list(TOPICS)
    config = json.load(open(os.path.join(bundle, "serving.json")))
    assert config["multi_label"] is True and config["threshold"] == 0.5 and config["num_classes"] == 3
    assert sorted(os.listdir(os.path.join(bundle, "tokenizer"))) == ["idf.txt", "tokenizer.json", "vocabulary.txt"]


def test_saved_model_and_tflite_predictors_agree(bundle):
    saved = Predictor.load(os.path.join(bundle, "saved_model"))
    lite = Predictor.load(os.path.join(bundle, "model.tflite"))
    assert (saved.kind, lite.kind) == ("saved_model", "tflite") and saved.label_names == list(TOPICS)
    texts = [OIL, "wheat corn harvest", "the dollar and the yen", "", "!!!"]
    np.testing.assert_allclose(lite.predict_proba(texts), saved.predict_proba(texts), atol=1e-5)
    # The sparse LR's terms are padded to 16, 32, 64, ... : documents alternating between widths agree too.
    every_word = " ".join(w for words in TOPICS.values() for w in words)  # 24 distinct terms: padded to 32
    mixed = [every_word, OIL, every_word + " the said", "", every_word, "wheat"]
    np.testing.assert_allclose(lite.predict_proba(mixed), saved.predict_proba(mixed), atol=1e-5)
    assert lite.predict(texts[:1])[0][0][0] == "oil"
    assert [len(row) for row in lite.predict(texts, top_k=2)] == [2] * len(texts)
    assert lite.predict_proba([]).shape == (0, 3)


def test_decisions():
    probs = np.array([[0.2, 0.7, 0.9], [0.1, 0.3, 0.2], [0.5, 0.4, 0.1]], "float32")
    multi = Predictor(lambda texts: probs[: len(texts)], ["a", "b", "c"], multi_label=True)
    assert multi.predict(["x", "y", "z"]) == [
        [("c", pytest.approx(0.9)), ("b", pytest.approx(0.7))],  # every label above 0.5, most probable first
        [("b", pytest.approx(0.3))],  # none above: the most probable one
        [("a", pytest.approx(0.5))],  # 0.5 is not above the threshold
    ]
    single = Predictor(lambda texts: probs[: len(texts)], ["a", "b", "c"], multi_label=False)
    assert [row[0][0] for row in single.predict(["x", "y", "z"])] == ["c", "b", "a"]
    assert [n for n, _ in single.predict(["x"], top_k=3)[0]] == ["c", "b", "a"]


def test_cli_prints_labels(bundle):
    saved = cli(os.path.join(bundle, "saved_model"), OIL, "wheat corn harvest", "--top-k", "2")
    assert saved.returncode == 0, saved.stderr[-2000:]
    lines = saved.stdout.splitlines()
    assert lines[0] == OIL and lines[1].startswith("  labels: oil (") and lines[2].startswith("  top 2: oil (")
    assert "  labels: grain (" in saved.stdout
    lite = cli(os.path.join(bundle, "model.tflite"), OIL, "--json", check_no_tensorflow=True)
    assert lite.returncode == 0, lite.stderr[-2000:]
    record = json.loads(lite.stdout)
    assert record["text"] == OIL and record["labels"][0]["label"] == "oil"
    assert 0.5 < record["labels"][0]["probability"] <= 1


def test_cli_errors_are_clear(bundle, tmp_path, capsys):
    missing = cli(str(tmp_path / "nope.tflite"), "text")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "nope.tflite: no such file or directory" in missing.stderr

    not_model = tmp_path / "empty_dir"
    not_model.mkdir()
    garbage = tmp_path / "garbage" / "model.tflite"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a flatbuffer at all")
    shutil.copy(os.path.join(bundle, "serving.json"), garbage.parent)
    shutil.copy(os.path.join(bundle, "labels.txt"), garbage.parent)
    shutil.copytree(os.path.join(bundle, "tokenizer"), garbage.parent / "tokenizer")
    lonely = tmp_path / "lonely"
    shutil.copytree(os.path.join(bundle, "saved_model"), lonely / "saved_model")
    wrong_labels = tmp_path / "wrong_labels"
    shutil.copytree(bundle, wrong_labels, ignore=shutil.ignore_patterns("saved_model"))
    (wrong_labels / "labels.txt").write_text("a\nb\n")
    cases = {
        str(not_model): "not a SavedModel directory",
        str(tmp_path / "notes.txt"): "no such file",
        os.path.join(bundle, "labels.txt"): "expected a SavedModel directory or a .tflite file",
        str(garbage): "not a usable .tflite model",
        str(lonely / "saved_model"): "no serving.json",
        str(wrong_labels / "model.tflite"): "3 outputs but",
    }
    for path, message in cases.items():
        assert main([path, "some text"]) == 2, path
        err = capsys.readouterr().err
        assert err.startswith("python -m kdkeras.predict: error: ") and message in err, (path, err)
        assert "Traceback" not in err
        with pytest.raises(ServingError, match=message.split(":")[0]):
            Predictor.load(path)
    with pytest.raises(SystemExit) as exit_info:
        main([os.path.join(bundle, "model.tflite")])  # no text
    assert exit_info.value.code == 2


def test_cli_classifies_a_file_or_standard_input(bundle, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_bytes(b"\xef\xbb\xbf" + f"{OIL}\r\n\r\nwheat corn harvest\r\n".encode())
    out = tmp_path / "out.jsonl"
    lite = cli(os.path.join(bundle, "model.tflite"), "--input", str(docs), "--output", str(out),
               check_no_tensorflow=True)
    assert lite.returncode == 0, lite.stderr[-2000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in records] == [OIL, "wheat corn harvest"] and records[0]["labels"][0]["label"] == "oil"
    assert "2 documents in" in lite.stderr and "docs/s, tflite" in lite.stderr
    code = ("import subprocess, sys\n"
            f"r = subprocess.run([sys.executable, '-m', 'kdkeras.predict', {os.path.join(bundle, 'saved_model')!r}, "
            "'--input', '-', '--format', 'tsv'], input=sys.argv[1].encode(), capture_output=True)\n"
            "sys.stdout.write(r.stdout.decode()); sys.stderr.write(r.stderr.decode()); sys.exit(r.returncode)\n")
    piped = subprocess.run([sys.executable, "-c", code, '{"text": "' + OIL + '"}\n'], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr[-2000:]
    assert piped.stdout.startswith("oil") and piped.stdout.rstrip().endswith(OIL)


def test_a_bad_input_line_is_one_error_naming_the_line_and_writes_nothing(bundle, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"text": "oil"}\n{"text": ""}\n{"text": "grain"}\n')
    out = tmp_path / "out.jsonl"
    bad = cli(os.path.join(bundle, "model.tflite"), "--input", str(docs), "--output", str(out))
    assert bad.returncode == 2 and "docs.jsonl:2: missing or empty 'text'" in bad.stderr and not out.exists()
    assert not os.path.exists(str(out) + ".tmp")
    skipped = cli(os.path.join(bundle, "model.tflite"), "--input", str(docs), "--output", str(out),
                  "--skip-bad-rows")
    assert skipped.returncode == 0 and len(out.read_text().splitlines()) == 2 and "1 bad lines skipped" in skipped.stderr
    both = cli(os.path.join(bundle, "model.tflite"), "some text", "--input", str(docs))
    assert both.returncode == 2 and "not both" in both.stderr


@pytest.mark.slow  # converts the fused reg-LSTM (about 40 s on a busy machine)
def test_fused_lstm_tflite_predicts_each_document_alone(tmp_path):
    # The fused reg-LSTM takes each document unpadded and keeps its LSTM state in variable tensors: a document's
    # probabilities must not depend on the documents classified before it, of the same length or not.
    student, tokenizer, _ = train_toy_student("lstm")
    export_saved_model(student, tokenizer, True, str(tmp_path / "saved_model"))
    export_tflite(student, tokenizer, True, str(tmp_path / "model.tflite"))
    write_serving_assets(str(tmp_path), tokenizer, list(TOPICS), multi_label=True)
    saved = Predictor.load(str(tmp_path / "saved_model"))
    lite = Predictor.load(str(tmp_path / "model.tflite"))
    texts = [OIL, "wheat corn harvest grain", "the dollar and the yen", "", "oil " * 500, "bank rates"]
    expected = saved.predict_proba(texts)
    np.testing.assert_allclose(lite.predict_proba(texts), expected, atol=1e-5)
    np.testing.assert_allclose(lite.predict_proba(texts[::-1]), expected[::-1], atol=1e-5)
    for text, row in zip(texts, expected):
        np.testing.assert_allclose(lite.predict_proba([text])[0], row, atol=1e-5)
