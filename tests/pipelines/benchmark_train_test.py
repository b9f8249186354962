import json
import subprocess
import sys

import pytest

from pipelines import benchmark_train
from tests.helpers import make_docs, write_hedwig


@pytest.mark.slow  # trains three small models for three epochs each
def test_times_every_student_formulation_and_writes_the_results_file(tmp_path):
    data = write_hedwig(str(tmp_path / "data"), {"train": make_docs(40), "dev": make_docs(10, 1), "test": make_docs(10, 2)})
    output = str(tmp_path / "out" / "train_speed.json")
    assert benchmark_train.main(["--dataset", "custom", "--data-dir", data, "--profile", "smoke", "--repeats", "2",
                                 "--output", output]) == 0
    with open(output) as f:
        result = json.load(f)
    assert set(result["models"]) == set(benchmark_train.MODELS) and result["documents"] == 40
    for row in result["models"].values():
        assert len(row["epoch_s_runs"]) == 2 and row["epoch_s"] > 0 and row["params"] > 0
    # The two KimCNN formulations are the same function: the same parameters.
    assert result["models"]["kimcnn"]["params"] == result["models"]["kimcnn_conv2d"]["params"]
    assert result["models"]["kimcnn_conv2d"]["conv2d_over_this_wall"] == 1.0
    assert "--profile smoke" in result["command"]


@pytest.mark.slow  # trains one small model for two epochs
def test_threads_and_models_can_be_chosen(tmp_path):
    data = write_hedwig(str(tmp_path / "data"), {"train": make_docs(40), "dev": make_docs(10, 1), "test": make_docs(10, 2)})
    output = str(tmp_path / "out" / "train_speed.json")
    # A process of its own: TensorFlow's thread count is fixed once it has started.
    subprocess.run([sys.executable, "-m", "pipelines.benchmark_train", "--dataset", "custom", "--data-dir", data,
                    "--profile", "smoke", "--repeats", "1", "--models", "boe", "--threads", "1", "--output", output],
                   check=True, capture_output=True)
    with open(output) as f:
        result = json.load(f)
    assert list(result["models"]) == ["boe"] and result["threads"] == 1


def test_unknown_models_are_refused(capsys):
    with pytest.raises(SystemExit):
        benchmark_train.main(["--models", "lstm,gpt"])
    assert "unknown models ['gpt']" in capsys.readouterr().err
