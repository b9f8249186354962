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
        "boe": {"dev": 86.0, "test": 85.0, "params": 980_000},
    }
    (tmp_path / "table2_reuters.json").write_text(json.dumps(
        {"dataset": "reuters", "metric": "micro_f1", "profile": "quick", "models": models, "command": "cmd",
         "machine": "m", "code": "commit abc", "wall_note": "1.5 h",
         "distillation": {"kd_lstm": {"alpha": 1.0, "fixed": False}},
         "teacher_check": {"warning": "the teacher is weak"}}))
    page = tmp_path / "results.md"
    page.write_text(f"intro\n{results.BEGIN}\nold\n{results.END}\nend\n")
    assert results.update(str(page), str(tmp_path))
    text = page.read_text()
    assert "| KD-LSTM (λ = 1, chosen on dev) | 3.0M | 84.00 ± 0.50 | 80.25 ± 0.25 | 2 | 88.9 (KD-LSTM) |" in text
    assert "| boe (bag of embeddings) | 1.0M | 86.00 | 85.00 | 1 | — |" in text
    assert "Teacher check: the teacher is weak." in text
    assert "Machine: m  \nCode: commit abc  \nTime: 1.5 h  \nSource:" in text
    assert "| Teacher (DocBERT) | 22.7M | 90.00 | 88.50 | 1 | 89.0 (BERT-base) |" in text
    assert text.startswith("intro\n") and text.endswith("end\n") and "old" not in text
    assert not results.update(str(page), str(tmp_path), check=True)


def test_table3_and_sweep_plots_come_from_the_files(tmp_path):
    def model(params, flops, latency, rate, teacher=None):
        row = {"params": params, "flops_per_doc": flops, "latency_ms": latency, "latency_format": "tflite",
               "docs_per_s": rate, "throughput_format": "saved_model",
               "formats": {"tflite": {"latency_ms": latency, "docs_per_s": rate / 2},
                           "saved_model": {"latency_ms": latency * 2, "docs_per_s": rate}}}
        teacher = teacher or row
        row.update(params_ratio_vs_teacher=teacher["params"] / params,
                   latency_ratio_vs_teacher=teacher["latency_ms"] / latency,
                   speedup_vs_teacher=rate / teacher["docs_per_s"])
        return row
    teacher = model(22_000_000, 1.4e9, 40.0, 25.0)
    bench = {"run_dir": "RUN", "documents": 200, "command": "python -m pipelines.benchmark --run-dir RUN",
             "machine": {"cpu_count": 2, "matmul_gflops_all_threads": 90.0, "matmul_gflops_one_thread": 60.0,
                         "teacher_gflops_achieved": 35.0, "teacher_share_of_matmul_peak": 35 / 90},
             "models": {"teacher": teacher, "kd_lstm": model(3_000_000, 3.6e7, 8.0, 1000.0, teacher)}}
    (tmp_path / "table3_reuters.json").write_text(json.dumps(bench))
    sweep = {"model": "kd_lstm", "key": "hidden_dim", "values": [32], "teacher": {"dev": 1.0, "test": 2.0},
             "runs": [{"dev": 80.0, "test": 78.0, "dev_runs": [80.0], "test_runs": [78.0]}], "command": "c"}
    (tmp_path / "sweep_reuters_kd_lstm_hidden_dim.json").write_text(json.dumps(sweep))
    (tmp_path / "sweep_reuters_kd_lstm_hidden_dim.png").write_bytes(b"png")
    page = tmp_path / "results.md"
    page.write_text(f"{results.BEGIN}\n{results.END}\n")
    results.update(str(page), str(tmp_path))
    text = page.read_text()
    assert "| kd_lstm | – | 3.0M | 7.3 | 36.0 | 8.00 (tflite) | – | 5 | 1,000 (saved_model) | 40 |" in text
    assert "| kd_lstm | tflite | 8.00 | – | – | 500 |" in text and "39 % of that" in text
    # Newer benchmark files: test scores, the model alone (tokenisation apart) and its ratio to the teacher.
    bench["models"]["kd_lstm"].update(test=85.5, model_ms=0.9, model_format="tflite", model_ratio_vs_teacher=30.0)
    bench["models"]["kd_lstm"]["formats"]["tflite"].update(model_ms_per_doc=0.9, tokenise_ms_per_doc=0.05)
    bench["models"]["svm"] = {"params": 2_000_000, "latency_ms": 20.0, "latency_format": "sklearn", "docs_per_s": 2000.0,
                              "throughput_format": "sklearn", "params_ratio_vs_teacher": 11.0,
                              "latency_ratio_vs_teacher": 2.0, "speedup_vs_teacher": 80.0, "test": 86.4,
                              "formats": {"sklearn": {"latency_ms": 20.0, "docs_per_s": 2000.0}}}
    (tmp_path / "table3_reuters.json").write_text(json.dumps(bench))
    (tmp_path / "table3_reuters.png").write_bytes(b"png")
    results.update(str(page), str(tmp_path))
    text = page.read_text()
    assert "| kd_lstm | 85.50 | 3.0M | 7.3 | 36.0 | 8.00 (tflite) | 0.9000 (tflite), 30× | 5 | 1,000 (saved_model) | 40 |" in text
    assert "| kd_lstm | tflite | 8.00 | 0.9000 | 0.0500 | 500 |" in text
    assert "| svm | 86.40 | 2.0M | 11.0 | – | 20.00 (sklearn) | – | 2 | 2,000 (sklearn) | 80 |" in text
    assert f"![table3_reuters]({tmp_path.name}/table3_reuters.png)" in text
    assert f"![sweep_reuters_kd_lstm_hidden_dim]({tmp_path.name}/sweep_reuters_kd_lstm_hidden_dim.png)" in text


def test_training_speed_table_comes_from_the_file(tmp_path):
    row = lambda s, cpu, ratio: {"params": 1000, "epoch_s": s, "epoch_cpu_s": cpu, "epoch_s_runs": [s],  # noqa: E731
                                 "conv2d_over_this_wall": ratio, "conv2d_over_this_cpu": ratio}
    (tmp_path / "train_speed_reuters.json").write_text(json.dumps(
        {"dataset": "reuters", "profile": "quick", "documents": 5797, "batch_size": 64, "steps_per_epoch": 91,
         "sequence_length": 120, "repeats": 3, "cpu_count": 2, "load_average": {"start": [2.5], "end": [3.0]},
         "models": {"kimcnn": row(10.0, 18.0, 8.0), "kimcnn_conv2d": row(80.0, 144.0, 1.0)}, "command": "cmd"}))
    text = results.render(str(tmp_path))
    assert "### train_speed_reuters: student training speed (reuters, quick profile)" in text
    assert "| kimcnn | 1,000 | 10.00 | 18.00 | 8.00× / 8.00× |" in text
    assert "5,797 train documents, batch 64 (91 updates), 120 words, medians of 3 interleaved epochs" in text


def test_lstm_step_cost_table_comes_from_the_file(tmp_path):
    row = {"embedding_dim": 64, "hidden_dim": 96, "quantization": "dynamic", "bytes": 1_634_000, "macs_per_step": 122_880,
           "ms_one_word": 0.014, "ms_document": 0.95, "us_per_step": 7.87, "gflops_per_step": 31.2}
    (tmp_path / "lstm_step_cost.json").write_text(json.dumps(
        {"words": 120, "vocabulary_size": 20000, "num_classes": 90, "repeats": 7, "threads": 1,
         "models": {"E64_H96_dynamic": row}, "command": "python -m pipelines.benchmark_lstm"}))
    text = results.render(str(tmp_path))
    assert "### lstm_step_cost: where the reg-LSTM's time goes on device" in text
    assert "| 64 × 96 | fused | dynamic | 1.63 MB | 0.014 ms | 0.950 ms | 7.87 µs | 31.2 |" in text  # older files: fused
    assert "a 120-word document and a one-word one at batch 1 on 1 thread, medians of 7 interleaved rounds" in text
    assert "unrolled:" not in text


def test_teacher_dropout_table_comes_from_the_file(tmp_path):
    rate = lambda r, s, saving: {"backbone_dropout": r, "seconds_per_step": s, "real_word_pieces_per_s": 900.0 / s,  # noqa: E731
                                 "round_seconds": [8 * s], "step_saving": saving}
    (tmp_path / "teacher_dropout_cost_reuters.json").write_text(json.dumps(
        {"dataset": "reuters", "backbone": "minilm", "batch_size": 16, "cpu_count": 2, "command": "cmd",
         "rows": [{"sequence_length": 64, "steps": 8, "rounds": 3, "real_word_pieces": 7168, "slots": 7424,
                   "rates": [rate(0.1, 2.5, 0.0), rate(0.0, 2.0, 0.2)]}]}))
    text = results.render(str(tmp_path))
    assert "### teacher_dropout_cost_reuters: teacher training step by dropout inside the backbone (reuters, minilm)" in text
    assert "| 64 | backbone dropout 0 | 2.000 | 450 | 20 % |" in text
    assert "| 64 | backbone dropout 0.1 | 2.500 | 360 | 0 % |" in text
    assert "8 batches of 16, 3 rounds taken in turns, medians; 2 CPU cores." in text


def test_teacher_freeze_table_comes_from_the_file(tmp_path):
    variant = lambda label, s, saving: {"label": label, "seconds_per_step": s,  # noqa: E731
                                        "real_word_pieces_per_s": 900.0 / s, "round_seconds": [8 * s],
                                        "step_saving": saving}
    (tmp_path / "teacher_freeze_cost_reuters.json").write_text(json.dumps(
        {"dataset": "reuters", "backbone": "minilm", "batch_size": 16, "cpu_count": 2, "command": "cmd",
         "rows": [{"sequence_length": 64, "steps": 8, "rounds": 3, "real_word_pieces": 7168, "slots": 7424,
                   "variants": [variant("as trained by default", 2.5, 0.0),
                                variant("embeddings + 2 layers frozen", 1.5, 0.4)]}]}))
    text = results.render(str(tmp_path))
    assert ("### teacher_freeze_cost_reuters: teacher training step by the part of the backbone kept frozen "
            "(reuters, minilm)") in text
    assert "| 64 | embeddings + 2 layers frozen | 1.500 | 600 | 40 % |" in text


def test_teacher_by_epoch_is_listed_and_plotted(tmp_path):
    result = {"dataset": "reuters", "metric": "micro_f1", "profile": "reference", "command": "cmd",
              "models": {"teacher": {"dev": 90.0, "test": 88.0, "params": 1_000_000}},
              "teacher_dev_by_epoch": [80.0, 85.5, 90.0],
              "teacher_check": {"dev": {"lstm": 88.0, "svm": 89.0}}}
    (tmp_path / "table2_reuters.json").write_text(json.dumps(result))
    page = tmp_path / "results.md"
    page.write_text(f"{results.BEGIN}\n{results.END}\n")
    assert results.update(str(page), str(tmp_path), check=True)
    assert not (tmp_path / "table2_reuters_teacher.png").exists()  # --check writes nothing
    results.update(str(page), str(tmp_path))
    assert (tmp_path / "table2_reuters_teacher.png").stat().st_size > 0
    text = page.read_text()
    assert "Teacher dev after each epoch: 80.00, 85.50, 90.00." in text
    assert f"![table2_reuters teacher]({tmp_path.name}/table2_reuters_teacher.png)" in text


def test_transfer_set_batch_table_comes_from_the_file(tmp_path):
    row = lambda b, s, slots: {"batch_size": b, "seconds": [s], "median_seconds": s, "load_average": [2.0],  # noqa: E731
                               "records": 100, "logits_computed": 60, "teacher_word_pieces": 1000,
                               "teacher_slots": slots, "teacher_padding": slots / 1000 - 1}
    (tmp_path / "transfer_set_batch_reuters.json").write_text(json.dumps(
        {"dataset": "reuters", "rounds": 1, "cpu_count": 2, "command": "cmd", "records_differing_from_first": {"512": 0},
         "rows": [row(64, 600.0, 1500), row(512, 500.0, 1080)]}))
    text = results.render(str(tmp_path))
    assert "### transfer_set_batch_reuters: transfer set by teacher inference batch (reuters)" in text
    assert "| 64 | 600 | 1,000 | 1,500 | 50 % |" in text and "| 512 | 500 | 1,000 | 1,080 | 8 % |" in text
    assert "512: 0." in text and "load average before each build: 64: 2, 512: 2." in text
