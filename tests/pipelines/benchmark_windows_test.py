import numpy as np
import pytest

from components.artifacts import load_teacher, read_split
from components.example_gen import ExampleGen
from components.teacher_trainer import TeacherTrainer
from kdkeras import batches, metrics
from pipelines import benchmark_windows
from tests.helpers import make_docs, write_hedwig


def test_pool_uses_only_windows_with_text():
    logits = np.array([[[1.0, 0.0], [3.0, 4.0], [9.0, 9.0]]])
    mask = np.array([[True, True, False]])
    np.testing.assert_allclose(benchmark_windows.pool(logits, mask, 3, "mean"), [[2.0, 2.0]])
    np.testing.assert_allclose(benchmark_windows.pool(logits, mask, 3, "max"), [[3.0, 4.0]])
    np.testing.assert_allclose(benchmark_windows.pool(logits, mask, 1, "max"), [[1.0, 0.0]])


@pytest.mark.slow
def test_one_window_is_truncation_and_more_windows_cover_more(tmp_path):
    long_docs = [(bits, " ".join([text] * 5)) for bits, text in make_docs(20, 3)]
    data = write_hedwig(str(tmp_path / "data"), {"train": make_docs(30), "dev": long_docs, "test": long_docs[:12]})
    run = str(tmp_path / "run")
    quiet = lambda *_: None  # noqa: E731
    ex = ExampleGen(dataset="custom", data_dir=data).run({}, run, log=quiet)
    teacher = TeacherTrainer(backbone="tiny", sequence_length=16, epochs=1, jit_compile=False).run(
        {"examples": ex}, run, log=quiet)
    result = benchmark_windows.benchmark(run, windows=(1, 2, 4), batch_size=8)
    model, preprocessor = load_teacher(teacher)
    test, _ = read_split(ex, "test")
    truncated = metrics.score(test.labels, batches.predict_logits(model, preprocessor, test.texts), True)
    rows = result["splits"]["test"]["rows"]
    assert result["splits"]["test"]["documents"] == 12 and [r["windows"] for r in rows] == [1, 2, 4]
    assert rows[0]["mean"] == pytest.approx(truncated) and "max" not in rows[0]
    assert rows[0]["covered"] < rows[1]["covered"] < rows[2]["covered"] <= 1
    assert rows[0]["span"] == 14 and rows[1]["span"] == 21 and {"mean", "max"} <= set(rows[2])
