"""benchmark_teacher: the backbone-dropout timing on a tiny backbone."""

import numpy as np
import pytest

from pipelines import benchmark_teacher

WORDS = "oil wheat dollar prices rose fell exports gained tonnes shares".split()


@pytest.mark.slow  # XLA compiles a train step per shape and rate
def test_dropout_rates_take_turns_on_the_same_batches():
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(3, 30))) for _ in range(48)]
    labels = (rng.random((48, 3)) < 0.3).astype("int32")
    lines = []
    row = benchmark_teacher.measure_dropout(texts, labels, True, 32, [0.1, 0.0], steps=3, rounds=2, batch_size=8,
                                            backbone="tiny", log=lines.append)
    assert row["steps"] == 3 and row["rounds"] == 2 and 0 < row["real_word_pieces"] <= row["slots"]
    assert [r["backbone_dropout"] for r in row["rates"]] == [0.1, 0.0]
    for rate in row["rates"]:
        assert len(rate["round_seconds"]) == 2 and rate["seconds_per_step"] > 0 and rate["real_word_pieces_per_s"] > 0
    assert row["rates"][0]["step_saving"] == 0.0 and row["rates"][1]["step_saving"] < 1
    assert len(lines) == 2 and "backbone dropout 0:" in lines[1]
