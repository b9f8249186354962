"""A teacher that reads long documents in windows, trained and used through the components."""

import os

import numpy as np
import pytest

from components.artifacts import load_teacher, read_split
from components.example_gen import ExampleGen
from components.teacher_inference import TeacherInference
from components.teacher_trainer import TeacherTrainer
from kdkeras import batches, windows
from kdkeras import transfer_set as ts
from tests.helpers import make_docs, write_hedwig


@pytest.mark.slow  # a teacher trained and run end to end through three components
def test_windowed_teacher_trains_saves_and_labels(tmp_path):
    rows = [(bits, " ".join([text] * 6)) for bits, text in make_docs(30)]  # longer than 16 word pieces
    data = write_hedwig(str(tmp_path / "data"), {"train": rows, "dev": make_docs(8, 1), "test": make_docs(8, 2)})
    run = str(tmp_path / "run")
    quiet = lambda *_: None  # noqa: E731
    ex = ExampleGen(dataset="custom", data_dir=data).run({}, run, log=quiet)
    trainer = TeacherTrainer(backbone="tiny", sequence_length=16, epochs=1, jit_compile=False, windows=3,
                             window_pooling="max")
    teacher = trainer.run({"examples": ex}, run, log=quiet)
    assert os.path.exists(teacher.path("preprocessor", windows.CONFIG_FILE))
    model, transform = load_teacher(teacher)
    assert isinstance(model, windows.WindowedClassifier) and model.pooling == "max"
    assert isinstance(transform, windows.WindowedPreprocessor) and transform.num_windows == 3
    with pytest.raises(ValueError, match="windows of its training length"):  # no longer reading for windows
        load_teacher(teacher, 32)
    logits = TeacherInference().run({"examples": ex, "teacher": teacher}, run, log=quiet)
    test, stored = read_split(logits, "test", with_logits=True)
    expected = batches.predict_logits(model, transform, test.texts)
    np.testing.assert_allclose(stored, expected, atol=1e-5)
    # The transfer set's handler runs it in blocks of WINDOW_ROWS documents (the last one padded).
    texts = [text for _, text in rows] * 3
    assert len(texts) > ts.WINDOW_ROWS
    handler = ts.TeacherModelHandler(teacher.path("teacher.keras"), teacher.path("preprocessor"), jit_compile=False)
    results = handler.run_inference([{"text": t} for t in texts], handler.load_model())
    assert len(results) == len(texts)
    np.testing.assert_allclose(np.stack([r.inference for r in results]),
                               batches.predict_logits(model, transform, texts), atol=1e-5)
    # Truncation keeps the fingerprint it had before windows existed; windows change it.
    plain = TeacherTrainer(backbone="tiny", sequence_length=16, epochs=1, jit_compile=False)
    assert "windows" not in plain.fingerprint_parameters()
    assert plain.fingerprint({"examples": ex}) != trainer.fingerprint({"examples": ex})
