import json

import pytest

from pipelines import benchmark_lstm


@pytest.mark.slow  # four TFLite conversions
def test_step_cost_of_tiny_reg_lstms(tmp_path):
    output = tmp_path / "lstm_step_cost.json"
    assert benchmark_lstm.main(["--grid", "8x4,8x8", "--words", "6", "--repeats", "1", "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert set(result["models"]) == {"E8_H4_float", "E8_H4_dynamic", "E8_H8_float", "E8_H8_dynamic"}
    row = result["models"]["E8_H8_float"]
    assert row["macs_per_step"] == 2 * 4 * 8 * (8 + 8) and row["ms_document"] > 0 and row["bytes"] > 0
    assert result["models"]["E8_H8_dynamic"]["bytes"] < row["bytes"]  # int8 weights
    assert "pipelines.benchmark_lstm" in result["command"]


@pytest.mark.slow  # four TFLite conversions
def test_unrolled_layout_computes_what_the_fused_one_does(tmp_path):
    output = tmp_path / "lstm_step_cost.json"
    assert benchmark_lstm.main(["--grid", "8x4", "--words", "5", "--repeats", "1", "--unrolled",
                                "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert result["unrolled"] is True
    row = result["models"]["E8_H4_float_unrolled"]
    assert row["layout"] == "unrolled" and result["models"]["E8_H4_float"]["layout"] == "fused"
    # Gates reordered, directions and the running max over time: the same probabilities as the fused ops.
    assert row["max_abs_difference_to_fused"] < 1e-5
    assert row["ms_document"] > 0
