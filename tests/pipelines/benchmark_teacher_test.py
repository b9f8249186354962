"""benchmark_teacher: the timing of teacher variants (backbone dropout, frozen layers) on a tiny backbone."""

import numpy as np
import pytest

from pipelines import benchmark_teacher

WORDS = "oil wheat dollar prices rose fell exports gained tonnes shares".split()


@pytest.mark.slow  # XLA compiles a train step per shape and rate
def test_variants_take_turns_on_the_same_batches():
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(3, 30))) for _ in range(48)]
    labels = (rng.random((48, 3)) < 0.3).astype("int32")
    lines = []
    variants = [{"backbone_dropout": 0.1}, {"backbone_dropout": 0.0},
                {"freeze_embeddings": True, "frozen_layers": 1},
                {"freeze_embeddings": True, "frozen_layers": 1, "cache_frozen": True}]
    row = benchmark_teacher.measure_variants(texts, labels, True, 32, variants, steps=3, rounds=2, batch_size=8,
                                             backbone="tiny", log=lines.append)
    assert row["steps"] == 3 and row["rounds"] == 2 and 0 < row["real_word_pieces"] <= row["slots"]
    assert [v["label"] for v in row["variants"]] == ["dropout 0.1", "dropout 0", "embeddings + 1 layer frozen",
                                                     "embeddings + 1 layer frozen, cached"]
    for v in row["variants"]:
        assert len(v["round_seconds"]) == 2 and v["seconds_per_step"] > 0 and v["real_word_pieces_per_s"] > 0
    assert row["variants"][0]["step_saving"] == 0.0 and row["variants"][1]["step_saving"] < 1
    # The tiny backbone: 2 layers; frozen, the embeddings and one layer leave one layer and the head to train.
    assert row["variants"][2]["trainable_params"] < row["variants"][0]["trainable_params"]
    assert row["variants"][3]["trainable_params"] == row["variants"][2]["trainable_params"]  # the same layers train
    assert row["variants"][3]["cache_seconds_per_step"] > 0 and "cache_seconds_per_step" not in row["variants"][2]
    assert len(lines) == 4 and "dropout 0:" in lines[1]


def test_freeze_values_parse():
    assert benchmark_teacher.parse_freeze("none,embeddings,embeddings+2,3") == [
        {"freeze_embeddings": False, "frozen_layers": 0}, {"freeze_embeddings": True, "frozen_layers": 0},
        {"freeze_embeddings": True, "frozen_layers": 2}, {"freeze_embeddings": False, "frozen_layers": 3}]
    assert benchmark_teacher.parse_freeze("embeddings+4+cached") == [
        {"freeze_embeddings": True, "frozen_layers": 4, "cache_frozen": True}]
    with pytest.raises(ValueError, match="'embedding' is not none, embeddings"):
        benchmark_teacher.parse_freeze("embedding")
    with pytest.raises(ValueError, match="only embeddings\\+K can be cached"):
        benchmark_teacher.parse_freeze("3+cached")
