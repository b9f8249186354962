"""Results tables from results files: `python -m pipelines.results [--check]`.

Reads the run reports copied into `docs/results/` (`table2_<dataset>.json`,
a `report.json` of `pipelines.run` plus a `command` and `machine` entry),
benchmark files (`table3_<dataset>.json`, a `benchmark.json` of
`pipelines.benchmark` plus `command` and `title`), long-document files
(`windows_<dataset>.json` from `pipelines.benchmark_windows`), teacher-cost files
(`teacher_cost_<dataset>.json` from `pipelines.benchmark_teacher`), transfer-set files
(`transfer_set_batch_<dataset>.json` from `pipelines.benchmark_transfer_set`), training-speed
files (`train_speed_<dataset>.json` from `pipelines.benchmark_train`) and sweep files
(`sweep_*.json` from `pipelines.sweep`, with their `.png` plots), and writes the
tables of `docs/results.md` between its `<!-- results:begin -->` and
`<!-- results:end -->` markers, so every number on that page comes from a
file a script wrote. `--check` exits 1 when the page is out of date.
"""

import argparse
import glob
import json
import os
import sys

RESULTS_DIR = os.path.join("docs", "results")
PAGE = os.path.join("docs", "results.md")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

# The paper's test scores (Reuters micro-F1 / IMDB accuracy), Table 2 of Adhikari et al.
PAPER = {
    "reuters": {"teacher": 89.0, "svm": 86.1, "lr": 74.8, "kd_lr": 83.7, "kimcnn": 80.8, "kd_kimcnn": 87.0,
                "lstm": 87.0, "kd_lstm": 88.9},
    "imdb": {"teacher": 54.2, "lr": 43.4, "kd_lr": 43.3, "kimcnn": 42.7, "kd_kimcnn": 48.3, "lstm": 52.8,
             "kd_lstm": 53.7},
}
ROWS = [
    ("teacher", "Teacher (DocBERT)", "BERT-base"),
    ("svm", "SVM (scikit-learn, tf-idf)", "SVM"),
    ("sklearn_lr", "LR (scikit-learn, tf-idf)", "—"),
    ("lr", "LR student (Keras, tf-idf)", "LR"),
    ("kd_lr", "KD-LR", "KD-LR"),
    ("kimcnn", "KimCNN", "KimCNN"),
    ("kd_kimcnn", "KD-KimCNN", "KD-KimCNN"),
    ("lstm", "reg-LSTM", "LSTM-reg"),
    ("kd_lstm", "KD-LSTM", "KD-LSTM"),
    ("boe", "boe (bag of embeddings)", "—"),
    ("kd_boe", "KD-boe", "—"),
]


def _cell(row, split):
    runs = row.get(f"{split}_runs") or [row[split]]
    if len(runs) > 1:
        return f"{row[f'{split}_mean']:.2f} ± {row[f'{split}_std']:.2f}"
    return f"{row[split]:.2f}"


def distillation_gaps(models, student):
    """`{"dev", "test"}`: the share of the plain student's gap to the teacher its distilled twin closes.

    `kdkeras.metrics.gap_closed` of the mean scores in `models` (a report's
    rows); a split is None where the teacher is not above the plain student,
    and the dict is empty when a row is missing.
    """
    from kdkeras import metrics

    rows = [models.get(name) for name in ("teacher", student, f"kd_{student}")]
    if not all(rows):
        return {}
    return {split: metrics.gap_closed(*(row[split] for row in rows)) for split in ("dev", "test")}


def format_gap(value):
    """A `distillation_gaps` share as text: "49 %", "—" (no gap to close), "past the teacher" (over 100 %)."""
    if value is None:
        return "—"
    return "past the teacher" if value > 1 else f"{100 * value:.0f} %"


def format_gaps(closed):
    """`distillation_gaps` as "dev / test" text, or None when neither split has a gap to close."""
    if all(closed.get(split) is None for split in ("dev", "test")):
        return None
    return " / ".join(format_gap(closed.get(split)) for split in ("dev", "test"))


def table2(result):
    """Markdown Table 2 (dev, test mean ± std, params, paper) for one results file."""
    dataset = result["dataset"]
    paper = PAPER.get(dataset, {})
    metric = {"micro_f1": "micro-F1", "accuracy": "accuracy"}.get(result["metric"], result["metric"])
    lines = [f"| model | params | dev {metric} | test {metric} | seeds | paper test |",
             "|---|---:|---:|---:|---:|---:|"]
    for key, label, paper_name in ROWS:
        row = result["models"].get(key)
        if row is None:
            continue
        seeds = len(row.get("test_runs") or [row["test"]])
        reference = f"{paper[key]:.1f} ({paper_name})" if key in paper else "—"
        choice = result.get("distillation", {}).get(key)
        if choice:
            label += f" (λ = {choice['alpha']:g}" + (", chosen on dev)" if not choice.get("fixed") else ")")
        lines.append(f"| {label} | {row['params'] / 1e6:.1f}M | {_cell(row, 'dev')} | {_cell(row, 'test')} | "
                     f"{seeds} | {reference} |")
    gaps = [f"{label} {text}" for key, label, _ in ROWS if key.startswith("kd_")
            if (text := format_gaps(distillation_gaps(result["models"], key[3:])))]
    if gaps:
        lines.append("\nShare of the plain student's gap to the teacher closed by distillation, dev / test: "
                     + ", ".join(gaps) + ".")
    warning = result.get("teacher_check", {}).get("warning")
    if warning:
        lines.append(f"\nTeacher check: {warning}.")
    if result.get("teacher_dev_by_epoch"):
        lines.append("\nTeacher dev after each epoch: "
                     + ", ".join(f"{score:.2f}" for score in result["teacher_dev_by_epoch"]) + ".")
    return "\n".join(lines)


def teacher_plot_path(path):
    """`<name>_teacher.png` beside the Table 2 file `path`."""
    return os.path.splitext(path)[0] + "_teacher.png"


def teacher_plot(path, result):
    """Writes the teacher-by-epoch plot of a Table 2 file that has the teacher's dev score per epoch; returns its path."""
    from kdkeras import plots

    plot = teacher_plot_path(path)
    dev = result.get("teacher_check", {}).get("dev", {})
    references = {name: score for name, score in dev.items() if not name.startswith("kd_")}
    plots.teacher_by_epoch(result["teacher_dev_by_epoch"], references, plot,
                           title=f"{result['dataset']}: teacher dev by epoch against plain students and baselines",
                           metric=result["metric"])
    return plot


def sweep_table(result):
    lines = [f"| {result['key']} | dev | test | seeds |", "|---|---:|---:|---:|"]
    for value, row in zip(result["values"], result["runs"]):
        lines.append(f"| {value} | {_cell(row, 'dev')} | {_cell(row, 'test')} | {len(row['test_runs'])} |")
    return "\n".join(lines)


def table3(result):
    """Markdown Table 3 (size and speed against the teacher) for one benchmark file."""
    lines = ["| model | test | params | × fewer | MFLOPs/doc | latency ms, batch 1, 1 thread | model alone ms | × faster | "
             "docs/s, batch 64 | × teacher |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in result["models"].items():
        flops = f"{row['flops_per_doc'] / 1e6:,.1f}" if row.get("flops_per_doc") else "–"
        test = f"{row['test']:.2f}" if row.get("test") is not None else "–"
        model = f"{row['model_ms']:.4f} ({row['model_format']})" if "model_ms" in row else "–"
        if "model_ratio_vs_teacher" in row:
            model += f", {row['model_ratio_vs_teacher']:,.0f}×"
        lines.append(
            f"| {name} | {test} | {row['params'] / 1e6:.1f}M | {row['params_ratio_vs_teacher']:.1f} | {flops} | "
            f"{row['latency_ms']:.2f} ({row['latency_format']}) | {model} | "
            f"{row['latency_ratio_vs_teacher']:.0f} | {row['docs_per_s']:,.0f} ({row['throughput_format']}) | "
            f"{row['speedup_vs_teacher']:.0f} |")
    lines += ["", "| model | format | latency ms, batch 1, 1 thread | model alone ms | tokenise ms | docs/s, batch 64 |",
              "|---|---|---:|---:|---:|---:|"]
    for name, row in result["models"].items():
        for fmt, f in row["formats"].items():
            model = f"{f['model_ms_per_doc']:.4f}" if "model_ms_per_doc" in f else "–"
            tokenise = f"{f['tokenise_ms_per_doc']:.4f}" if "tokenise_ms_per_doc" in f else "–"
            lines.append(f"| {name} | {fmt} | {f['latency_ms']:.2f} | {model} | {tokenise} | {f['docs_per_s']:,.0f} |")
    m = result["machine"]
    lines += ["", f"Machine: {m['cpu_count']} CPU cores, matmul {m['matmul_gflops_all_threads']:.0f} GFLOP/s on all "
                  f"threads ({m['matmul_gflops_one_thread']:.0f} on one); the teacher's Keras inference reaches "
                  f"{m['teacher_gflops_achieved']:.0f} GFLOP/s, {100 * m['teacher_share_of_matmul_peak']:.0f} % of "
                  f"that. {result['documents']} test documents timed; latency includes tokenisation, "
                  "\"model alone\" is the model on pre-made features."]
    return "\n".join(lines)


def windows_table(result):
    """Markdown table of a `pipelines.benchmark_windows` file: score per number of windows and pooling."""
    lines = []
    for split, r in result["splits"].items():
        lines += [f"{split}: {r['documents']} documents, {r['word_pieces_mean']:.0f} word pieces on average "
                  f"(median {r['word_pieces_median']:.0f}); {r['windows_run']} windows run in {r['seconds']:.0f} s",
                  "", "| windows | word pieces read | text covered | whole documents | mean pooling | max pooling |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for row in r["rows"]:
            mx = f"{row['max']:.2f}" if "max" in row else "= mean"
            lines.append(f"| {row['windows']} | {row['span']} | {100 * row['covered']:.1f} % | "
                         f"{100 * row['whole_docs']:.1f} % | {row['mean']:.2f} | {mx} |")
        lines.append("")
    return "\n".join(lines)


def teacher_cost_table(result):
    """Markdown table of a `pipelines.benchmark_teacher` file: padding and throughput with and without buckets."""
    lines = ["| MSL | documents cut | real share, padded | real share, bucketed | slots saved | "
             "train real wp/s, padded | bucketed | speed-up | inference real wp/s, padded | bucketed | "
             "epoch min, padded → bucketed |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(
            f"| {r['sequence_length']} | {100 * r['truncated_documents'] / r['documents']:.0f} % | "
            f"{100 * r['share_real_padded']:.0f} % | {100 * r['share_real_bucketed']:.0f} % | "
            f"{100 * r['slot_saving']:.0f} % | {r['train_padded']['real_word_pieces_per_s']:,.0f} | "
            f"{r['train_bucketed']['real_word_pieces_per_s']:,.0f} | {r['train_speedup']:.2f}× | "
            f"{r['inference_padded']['real_word_pieces_per_s']:,.0f} | "
            f"{r['inference_bucketed']['real_word_pieces_per_s']:,.0f} | "
            f"{r['train_padded']['epoch_minutes_estimate']:.1f} → {r['train_bucketed']['epoch_minutes_estimate']:.1f} |")
    lines.append(f"\n{result['rows'][0]['documents']} train documents, batch {result['batch_size']}, "
                 f"{result['cpu_count']} CPU cores; buckets {', '.join(str(r['buckets']) for r in result['rows'])}.")
    return "\n".join(lines)


def teacher_step_table(result):
    """Markdown table of a `pipelines.benchmark_teacher --backbone-dropouts / --freeze` file: a training step per variant."""
    lines = ["| MSL | teacher | s / step | real wp/s | step saved |", "|---:|---|---:|---:|---:|"]
    for r in result["rows"]:
        variants = r.get("variants") or [{**rate, "label": f"backbone dropout {rate['backbone_dropout']:g}"}
                                         for rate in r["rates"]]  # files written before --freeze
        for v in variants:
            lines.append(f"| {r['sequence_length']} | {v['label']} | {v['seconds_per_step']:.3f} | "
                         f"{v['real_word_pieces_per_s']:,.0f} | {100 * v.get('step_saving', 0):.0f} % |")
    row = result["rows"][0]
    lines.append(f"\n{row['steps']} batches of {result['batch_size']}, {row['rounds']} rounds taken in turns, medians; "
                 f"{result['cpu_count']} CPU cores.")
    return "\n".join(lines)


def transfer_set_batch_table(result):
    """Markdown table of a `pipelines.benchmark_transfer_set` file: the transfer set's cost per inference batch."""
    from pipelines.benchmark_transfer_set import format_result

    loads = ", ".join(f"{r['batch_size']}: {'/'.join(f'{v:g}' for v in r['load_average'])}" for r in result["rows"])
    return (format_result(result) + f"\n{result['rounds']} round(s) taken in turns, median seconds; "
            f"{result['cpu_count']} CPU cores; load average before each build: {loads}.")


def predict_table(result):
    """Markdown table of a `pipelines.benchmark_predict` file: bulk prediction from a file per student and format."""
    lines = ["| student | format | documents | docs/s (in-process) | model load s | CLI wall s |",
             "|---|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        cli = f"{r['cli_wall_s']:.1f}" if "cli_wall_s" in r else "–"
        lines.append(f"| {r['student']} | {r['format']} | {r['documents']:,} | {r['docs_per_s']:,.0f} | "
                     f"{r['load_s']:.2f} | {cli} |")
    lines.append(f"\nBatch {result['batch_size']}, {result['cpu_count']} CPU cores; the CLI column is "
                 "`python -m kdkeras.predict MODEL --input FILE --output OUT` in a fresh process (start-up included).")
    return "\n".join(lines)


def train_speed_table(result):
    """Markdown table of a `pipelines.benchmark_train` file: seconds per training epoch of each student."""
    lines = ["| model | params | epoch s (wall) | epoch s (CPU) | 2-D KimCNN ÷ this (wall / CPU) |",
             "|---|---:|---:|---:|---:|"]
    for name, r in result["models"].items():
        ratio = (f"{r['conv2d_over_this_wall']:.2f}× / {r['conv2d_over_this_cpu']:.2f}×"
                 if "conv2d_over_this_wall" in r else "—")
        lines.append(f"| {name} | {r['params']:,} | {r['epoch_s']:.2f} | {r['epoch_cpu_s']:.2f} | {ratio} |")
    load = result["load_average"]
    threads = result.get("threads", "all")
    lines.append(f"\n{result['documents']:,} train documents, batch {result['batch_size']} "
                 f"({result['steps_per_epoch']} updates), {result['sequence_length']} words, medians of "
                 f"{result['repeats']} interleaved epochs; {result['cpu_count']} CPU cores, TensorFlow threads: "
                 f"{threads}, load average {load['start'][0]:.1f} → {load['end'][0]:.1f}.")
    return "\n".join(lines)


def lstm_step_table(result):
    """Markdown table of a `pipelines.benchmark_lstm` file: the reg-LSTM's time per step and fixed cost, per layout."""
    lines = ["| word vectors × hidden | layout | weights | file | one word | document | per step | GFLOP/s per step |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in result["models"].values():
        lines.append(f"| {r['embedding_dim']} × {r['hidden_dim']} | {r.get('layout', 'fused')} | {r['quantization']} | "
                     f"{r['bytes'] / 1e6:.2f} MB | {r['ms_one_word']:.3f} ms | {r['ms_document']:.3f} ms | "
                     f"{r['us_per_step']:.2f} µs | {r['gflops_per_step']:.1f} |")
    layouts = "fused: two `UNIDIRECTIONAL_SEQUENCE_LSTM` ops on the unpadded document"
    if result.get("unrolled"):
        layouts += "; unrolled: a static graph of small ops per step, one file per length"
    lines.append(f"\nUntrained reg-LSTMs ({result['vocabulary_size']:,} words, {result['num_classes']} classes) "
                 f"exported as `.tflite` files ({layouts}); a {result['words']}-word document and a one-word one "
                 f"at batch 1 on {result['threads']} thread, medians of {result['repeats']} interleaved rounds. Per "
                 "step: both directions; GFLOP/s from the step's multiply-adds, 2·4·H·(E + H).")
    return "\n".join(lines)


def _source(path, results_dir):
    return os.path.relpath(path, os.path.dirname(results_dir))


def _sweep_title(result):
    title = f"{result['model']} over {result['key']}"
    if result.get("fixed"):
        title += " (" + ", ".join(f"{k}={v}" for k, v in result["fixed"].items()) + ")"
    return title


# Per kind of results file: its pattern, the heading after its name, the line after "Source: …" and the table.
KINDS = (
    ("table2_*.json", lambda r: f"{r['dataset']} ({r.get('title', r['profile'] + ' profile')})",
     None, table2),
    ("table3_*.json", lambda r: r.get("title", r["run_dir"]), None, table3),
    ("windows_*.json", lambda r: f"teacher of `{r['run_dir']}` reading windows of {r['sequence_length']} tokens "
                                 f"every {r['stride']} word pieces ({r['metric']})", None, windows_table),
    ("teacher_cost_*.json", lambda r: f"teacher cost with and without length buckets ({r['dataset']}, "
                                      f"{r['backbone']})", None, teacher_cost_table),
    ("teacher_dropout_cost_*.json", lambda r: f"teacher training step by dropout inside the backbone "
                                              f"({r['dataset']}, {r['backbone']})", None, teacher_step_table),
    ("teacher_freeze_cost_*.json", lambda r: f"teacher training step by the part of the backbone kept frozen "
                                             f"({r['dataset']}, {r['backbone']})", None, teacher_step_table),
    ("transfer_set_batch_*.json", lambda r: f"transfer set by teacher inference batch ({r['dataset']})", None,
     transfer_set_batch_table),
    ("predict_*.json", lambda r: r["title"], None, predict_table),
    ("train_speed_*.json", lambda r: f"student training speed ({r['dataset']}, {r['profile']} profile)", None,
     train_speed_table),
    ("lstm_step_cost*.json", lambda r: "where the reg-LSTM's time goes on device", None, lstm_step_table),
    ("sweep_*.json", _sweep_title,
     lambda r: f"; teacher dev/test {r['teacher']['dev']:.2f} / {r['teacher']['test']:.2f}", sweep_table),
)


def render(results_dir=RESULTS_DIR):
    """The generated part of the results page."""
    parts = []
    for pattern, title, note, table in KINDS:
        for path in sorted(glob.glob(os.path.join(results_dir, pattern))):
            with open(path) as f:
                result = json.load(f)
            name = os.path.splitext(os.path.basename(path))[0]
            parts.append(f"### {name}: {title(result)}\n")
            notes = f"Machine: {result['machine']}  \n" if "machine" in result and table is table2 else ""
            notes += "".join(f"{label}: {result[key]}  \n" for key, label in (("code", "Code"), ("wall_note", "Time"))
                               if key in result)
            parts.append(f"Command: `{result.get('command', '')}`  \n{notes}Source: "
                         f"`{_source(path, results_dir)}`{note(result) if note else ''}\n")
            parts.append(table(result) + ("" if table is windows_table else "\n"))
            plot = os.path.splitext(path)[0] + ".png"
            if table in (sweep_table, table3) and os.path.exists(plot):
                parts.append(f"![{name}]({_source(plot, results_dir)})\n")
            plot = teacher_plot_path(path)
            if table is table2 and result.get("teacher_dev_by_epoch") and os.path.exists(plot):
                parts.append(f"![{name} teacher]({_source(plot, results_dir)})\n")
    return "\n".join(parts)


def write_plots(results_dir=RESULTS_DIR):
    """Writes the missing teacher-by-epoch plots of Table 2 files; returns the paths written."""
    written = []
    for path in sorted(glob.glob(os.path.join(results_dir, "table2_*.json"))):
        with open(path) as f:
            result = json.load(f)
        if result.get("teacher_dev_by_epoch") and not os.path.exists(teacher_plot_path(path)):
            written.append(teacher_plot(path, result))
    return written


def update(page=PAGE, results_dir=RESULTS_DIR, check=False):
    """Writes missing plots and rewrites the generated block of `page`; returns True when it changed (or would)."""
    with open(page) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{page}: missing the {BEGIN} / {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    if not check:
        write_plots(results_dir)
    new = f"{head}{BEGIN}\n{render(results_dir)}\n{END}{tail}"
    changed = new != text
    if changed and not check:
        with open(page, "w") as f:
            f.write(new)
    return changed


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pipelines.results", description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 when docs/results.md is out of date")
    args = p.parse_args(argv)
    changed = update(check=args.check)
    if args.check and changed:
        print(f"{PAGE} is out of date: run python -m pipelines.results", file=sys.stderr)
        return 1
    print(f"{PAGE} {'updated' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
