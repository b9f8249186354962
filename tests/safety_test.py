"""Loading never runs code from user files; names from configs or the command line stay inside their folder."""

import json
import os
import re

import keras
import pytest

from components.base import Artifact, Component
from components.artifacts import load_student
from kdkeras.models import ModelLoadError, load_model
from kdkeras.paths import UnsafePathError, check_name, safe_join
from kdkeras.predict import Predictor, ServingError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_safe_join_stays_inside_root(tmp_path):
    root = str(tmp_path / "out")
    assert safe_join(root, "reuters", "quick") == os.path.join(root, "reuters", "quick")
    assert safe_join(root, "a/b", "../c") == os.path.join(root, "a/b", "../c")  # still inside
    for parts in (["../escape"], ["reuters", "../../x"], ["/etc/passwd"], ["a", "/abs"], ["..", "out2"], ["x\0y"]):
        with pytest.raises(UnsafePathError):
            safe_join(root, *parts)
    with pytest.raises(UnsafePathError, match=r"'\.\./escape' would leave"):
        safe_join(root, "../escape")


def test_check_name():
    assert check_name("quick-8k", "run id") == "quick-8k"
    assert check_name("StudentTrainer.lstm.alpha0.5.seed0") == "StudentTrainer.lstm.alpha0.5.seed0"
    for bad in ("", ".", "..", "../x", "a/b", "/abs", None):
        with pytest.raises(UnsafePathError, match="must be a plain directory name"):
            check_name(bad, "run id")


def test_component_names_cannot_leave_the_pipeline_root():
    with pytest.raises(UnsafePathError, match="component name '../evil'"):
        Component(name="../evil")


def test_run_pipeline_refuses_unsafe_run_ids(tmp_path):
    from pipelines import configs, pipeline

    config = configs.build_config("custom", True, "smoke")
    for run_id in ("../escape", "/tmp/x", ".."):
        with pytest.raises(UnsafePathError):
            pipeline.run_pipeline("custom", config, output_dir=str(tmp_path / "out"), data_dir=str(tmp_path),
                                  run_id=run_id)
    assert not (tmp_path / "out").exists()


def test_missing_artifact_is_one_clear_line(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^.*nothing: not a finished pipeline artifact \(no such folder\)$"):
        Artifact(str(tmp_path / "nothing"))


@pytest.fixture
def lambda_model(tmp_path):
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    path = str(tmp_path / "student.keras")
    keras.Model(inputs, outputs).save(path)
    return path


def test_keras_file_with_a_lambda_layer_is_refused(lambda_model, tmp_path):
    with pytest.raises(ModelLoadError, match=r"student\.keras: refused to load: the model holds Python code"):
        load_model(lambda_model)
    # The components load through it: a StudentTrainer artifact with such a model is refused too.
    (tmp_path / "metadata.json").write_text(json.dumps({"fingerprint": "x"}))
    with pytest.raises(ModelLoadError, match="refused to load"):
        load_student(Artifact(str(tmp_path)))
    with pytest.raises(ModelLoadError, match=r"junk\.keras: cannot load the Keras model"):
        (tmp_path / "junk.keras").write_bytes(b"not a zip")
        load_model(str(tmp_path / "junk.keras"))


def test_safe_models_still_load(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.save(tmp_path / "ok.keras")
    assert load_model(str(tmp_path / "ok.keras")).count_params() == 8


def test_serving_bundle_files_stay_inside_the_bundle(tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"x")
    (tmp_path / "labels.txt").write_text("a\nb\n")
    for key, value in (("labels", "../../etc/passwd"), ("tokenizer", "/etc")):
        (tmp_path / "serving.json").write_text(json.dumps({"multi_label": True, key: value}))
        with pytest.raises(ServingError, match=f"serving.json: '{key}': .* (would leave|must be a relative path)"):
            Predictor.load(str(tmp_path / "model.tflite"))


UNSAFE = re.compile(
    r"^\s*(import|from)\s+(pickle|cPickle|dill|joblib|shelve|marshal)\b|pickle\.loads?\(|joblib\.load|"
    r"safe_mode\s*=\s*False|enable_unsafe_deserialization|allow_pickle\s*=\s*True|yaml\.load\(|"
    r"yaml\.unsafe_load|(?<![\w.])eval\(|(?<![\w.])exec\(|torch\.load\(",
    re.MULTILINE,
)


def test_no_unsafe_deserialization_in_the_code():
    found = []
    for package in ("kdkeras", "components", "pipelines"):
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    for match in UNSAFE.finditer(open(path, encoding="utf-8").read()):
                        found.append(f"{os.path.relpath(path, ROOT)}: {match.group(0).strip()}")
    assert not found


def test_keras_models_are_loaded_through_the_safe_loader():
    direct = []
    for package in ("kdkeras", "components", "pipelines"):
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith(".py") and path != os.path.join(ROOT, "kdkeras", "models", "__init__.py"):
                    source = open(path, encoding="utf-8").read()
                    if re.search(r"keras\.(saving|models)\.load_model\((?![^)]*safe_mode=True)", source):
                        direct.append(os.path.relpath(path, ROOT))
    assert not direct, f"use kdkeras.models.load_model (safe_mode) in {direct}"
