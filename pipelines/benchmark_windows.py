"""Long documents: `python -m pipelines.benchmark_windows --run-dir RUN --windows 1,2,4,8`.

Scores a run's teacher on dev and test when it reads each document as up to
N overlapping windows of its sequence length (mean or max of the window
logits) against plain truncation (N = 1), and reports how much of the
documents each setting covers and what it costs. Windows start every
`--stride` word pieces (default half a window), so the windows of a smaller
N are the first windows of a larger one: the teacher runs once, on the
windows that hold text, and every (N, pooling) is scored from those logits.

Writes a JSON results file (default `RUN/windows.json`). Teachers *trained*
on windows come from `python -m pipelines.run --teacher-windows N` or
`python -m pipelines.sweep --teacher --vary windows=1,4`.
"""

import argparse
import os
import sys
import time

from pipelines import cli


def window_logits(model, transform, texts, batch_size=64):
    """Logits of every window `[docs, windows, K]`, the window mask `[docs, windows]` and word pieces per doc."""
    import numpy as np

    logits, masks, pieces = [], [], []
    tokenizer = transform.tokenizer
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        x = transform(batch)
        mask = np.asarray(x["window_mask"])
        flat = {k: np.asarray(x[k])[mask] for k in ("token_ids", "padding_mask", "segment_ids")}
        valid = np.asarray(model.predict_on_batch(flat))
        out = np.zeros(mask.shape + valid.shape[-1:], "float32")
        out[mask] = valid
        logits.append(out)
        masks.append(mask)
        pieces.extend(len(ids) for ids in tokenizer(batch))
        print(f"[windows] {start + len(batch)}/{len(texts)} documents", flush=True)
    return np.concatenate(logits), np.concatenate(masks), np.asarray(pieces)


def pool(logits, mask, windows, pooling):
    """Pools the first `windows` window logits of each document over those that hold text."""
    import numpy as np

    logits, mask = logits[:, :windows], mask[:, :windows, None]
    if pooling == "mean":
        return (logits * mask).sum(1) / np.maximum(mask.sum(1), 1)
    return np.where(mask, logits, -np.inf).max(1)


def benchmark(run_dir, windows=(1, 2, 4, 8), poolings=("mean", "max"), stride=None, docs=None, batch_size=64):
    """Scores the run's teacher with each number of windows and pooling; returns the results dict."""
    import numpy as np

    from components.artifacts import RunDir, load_schema, load_teacher, read_split
    from kdkeras import metrics
    from kdkeras.windows import WindowedPreprocessor

    run = RunDir(run_dir)
    examples = run.examples
    schema = load_schema(examples)
    model, preprocessor = load_teacher(run.teacher)
    if not hasattr(preprocessor, "tokenizer") or isinstance(preprocessor, WindowedPreprocessor):
        raise ValueError(f"{run_dir}: the teacher already reads windows; give a run with a truncating teacher")
    transform = WindowedPreprocessor(preprocessor, max(windows), stride)
    result = {"run_dir": run_dir, "sequence_length": preprocessor.sequence_length, "stride": transform.stride,
              "metric": schema["metric"], "splits": {}}
    for split_name in ("dev", "test"):
        split, _ = read_split(examples, split_name)
        texts = split.texts[:docs] if docs else split.texts
        labels = split.labels[:len(texts)]
        started = time.time()
        logits, mask, pieces = window_logits(model, transform, texts, batch_size)
        seconds = time.time() - started
        rows = []
        for n in windows:
            span = transform.window + (n - 1) * transform.stride
            row = {"windows": n, "span": span, "covered": float(np.minimum(pieces, span).sum() / pieces.sum()),
                   "whole_docs": float((pieces <= span).mean()), "mean_windows": float(mask[:, :n].sum(1).mean())}
            for p in poolings if n > 1 else poolings[:1]:
                row[p] = metrics.score(labels, pool(logits, mask, n, p), schema["multi_label"])
            rows.append(row)
        result["splits"][split_name] = {
            "documents": len(texts), "word_pieces_mean": float(pieces.mean()),
            "word_pieces_median": float(np.median(pieces)), "seconds": round(seconds, 1),
            "windows_run": int(mask.sum()), "rows": rows,
        }
    return result


def format_result(result):
    lines = [f"teacher of {result['run_dir']}: windows of {result['sequence_length']} tokens every "
             f"{result['stride']} word pieces ({result['metric']} in %)"]
    for split, r in result["splits"].items():
        lines.append(f"{split}: {r['documents']} documents, {r['word_pieces_mean']:.0f} word pieces on average "
                     f"(median {r['word_pieces_median']:.0f})")
        lines.append(f"  {'windows':>7} {'span':>5} {'covered':>8} {'whole docs':>10} {'mean':>7} {'max':>7}")
        for row in r["rows"]:
            mean, mx = row.get("mean"), row.get("max")
            lines.append(f"  {row['windows']:>7} {row['span']:>5} {100 * row['covered']:>7.1f}% "
                         f"{100 * row['whole_docs']:>9.1f}% {mean:>7.2f} " + (f"{mx:>7.2f}" if mx is not None else
                                                                                f"{'=':>7}"))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pipelines.benchmark_windows", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="a finished run of pipelines.run")
    p.add_argument("--windows", type=cli.int_list, default=[1, 2, 4, 8], help="numbers of windows to score (1: truncate)")
    p.add_argument("--stride", type=int, help="word pieces between window starts (default half a window)")
    p.add_argument("--docs", type=int, help="first N documents of dev and of test (default all)")
    p.add_argument("--output", help="results file (default RUN/windows.json)")
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)
    return cli.write_result(
        "pipelines.benchmark_windows", argv, lambda: benchmark(args.run_dir, args.windows, stride=args.stride, docs=args.docs),
        args.output or os.path.join(args.run_dir, "windows.json"), format_result)


if __name__ == "__main__":
    sys.exit(main())
