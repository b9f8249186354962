import json
import os

from pipelines import results

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_results_page_matches_the_results_files(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert not results.update(check=True), "docs/results.md is stale: run python -m pipelines.results"


def test_tables_come_from_the_files(tmp_path):
    models = {
        "teacher": {"dev": 90.0, "test": 88.5, "params": 22_700_000},
        "kd_lstm": {"dev": 84.0, "test": 80.25, "params": 3_000_000, "dev_mean": 84.0, "dev_std": 0.5,
                    "dev_runs": [83.5, 84.5], "test_mean": 80.25, "test_std": 0.25, "test_runs": [80.0, 80.5]},
    }
    (tmp_path / "table2_reuters.json").write_text(json.dumps(
        {"dataset": "reuters", "metric": "micro_f1", "profile": "quick", "models": models, "command": "cmd",
         "machine": "m"}))
    page = tmp_path / "results.md"
    page.write_text(f"intro\n{results.BEGIN}\nold\n{results.END}\nend\n")
    assert results.update(str(page), str(tmp_path))
    text = page.read_text()
    assert "| KD-LSTM | 3.0M | 84.00 ± 0.50 | 80.25 ± 0.25 | 2 | 88.9 (KD-LSTM) |" in text
    assert "| Teacher (DocBERT) | 22.7M | 90.00 | 88.50 | 1 | 89.0 (BERT-base) |" in text
    assert text.startswith("intro\n") and text.endswith("end\n") and "old" not in text
    assert not results.update(str(page), str(tmp_path), check=True)
