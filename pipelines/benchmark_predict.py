"""Bulk prediction throughput: `python -m pipelines.benchmark_predict --run-dir RUN`.

Writes the run's test split as a text file (one document per line) and
classifies it with every exported student in every format, the way users do:
`Predictor.predict_file` in-process (documents/s, model load time apart) and
the command line `python -m kdkeras.predict MODEL --input FILE --output F`
in a fresh process (wall seconds, Python and model start-up included).
Writes a JSON results file (default `docs/results/predict_<dataset>.json`)
and prints a table.
"""

import os
import subprocess
import sys
import tempfile
import time

from pipelines import cli


def _formats(export_dir):
    from components.artifacts import FORMATS

    for student in sorted(os.listdir(export_dir)):
        folder = os.path.join(export_dir, student)
        if not os.path.isdir(folder):
            continue
        for fmt, name in FORMATS.items():
            path = os.path.join(folder, name)
            if os.path.exists(path):
                yield student, fmt, path


def measure(run_dir, batch_size=256, cli_runs=True, log=print):
    """Rows of `{student, format, documents, load_s, docs_per_s, cli_wall_s}` for the run's test split."""
    from components.artifacts import RunDir, read_split
    from kdkeras.predict import Predictor

    run = RunDir(run_dir)
    texts = read_split(run.examples, "test")[0].texts
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "test.txt")
        with open(source, "w", encoding="utf-8") as f:
            f.writelines(" ".join(text.split()) + "\n" for text in texts)
        for student, fmt, path in _formats(run.exports.uri):
            started = time.perf_counter()
            predictor = Predictor.load(path)
            load_s = time.perf_counter() - started
            with open(os.devnull, "w") as sink:
                stats = predictor.predict_file(source, sink, batch_size=batch_size)
            row = {"student": student, "format": fmt, "documents": stats["documents"], "load_s": round(load_s, 2),
                   "docs_per_s": stats["docs_per_s"]}
            if cli_runs:
                started = time.perf_counter()
                out = subprocess.run([sys.executable, "-m", "kdkeras.predict", path, "--input", source, "--output",
                                      os.path.join(tmp, "out.jsonl"), "--batch-size", str(batch_size)],
                                     capture_output=True, text=True)
                if out.returncode != 0:
                    raise RuntimeError(f"kdkeras.predict failed on {path}:\n{out.stderr[-2000:]}")
                row["cli_wall_s"] = round(time.perf_counter() - started, 2)
            rows.append(row)
            log(f"[benchmark_predict] {student:<10} {fmt:<16} {row['docs_per_s']:>9,.0f} docs/s  "
                f"load {row['load_s']:.2f} s" + (f"  CLI {row['cli_wall_s']:.1f} s" if cli_runs else ""))
    return rows


def main(argv=None):
    p = cli.ArgumentParser(prog="python -m pipelines.benchmark_predict", description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", default=os.path.join("saved_models", "reuters", "quick"),
                   help="a finished run (its ExampleGen and Exporter artifacts)")
    p.add_argument("--batch-size", type=int, default=256, help="documents per model call")
    p.add_argument("--no-cli", action="store_true", help="skip the command-line timings")
    p.add_argument("--output", help="results file (default docs/results/predict_<dataset>.json)")
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)
    from components.artifacts import RunDir
    from components.base import write_json

    dataset = RunDir(args.run_dir).examples.metadata["parameters"]["dataset"]
    rows = measure(args.run_dir, args.batch_size, not args.no_cli)
    output = args.output or os.path.join("docs", "results", f"predict_{dataset}.json")
    result = {
        "title": f"Bulk prediction throughput, {dataset} test split from a file",
        "command": cli.command_line("pipelines.benchmark_predict", argv),
        "run_dir": args.run_dir, "batch_size": args.batch_size, "cpu_count": os.cpu_count(), "rows": rows,
    }
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    write_json(output, result)
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
