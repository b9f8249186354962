"""Transfer-set cost by inference batch: `python -m pipelines.benchmark_transfer_set --run-dir RUN --batch-sizes 64,512`.

Builds a finished run's transfer set again (the whole Beam graph: read → tag
→ augment → drop duplicates → teacher logits → write; the run's own
TransferSet parameters, the DirectRunner in multi-processing mode) once per
`--batch-sizes` value, the values taking turns over `--rounds` rounds, each
into a fresh temporary folder. A RunInference batch is split by length
bucket and every bucket's last teacher batch is padded
(`kdkeras.transfer_set.TeacherModelHandler`), so the batch size sets how
many padded word-piece slots the teacher computes. Reports, per value, the
wall seconds of each round, the teacher's real word pieces and computed
slots (Beam counters), and checks that every value gives the same records
with the same logits, bit for bit. The machine's load average before each
build is recorded: on a shared machine the seconds vary with it.

Writes a JSON results file (default `RUN/transfer_set_batch.json`).
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from pipelines import cli


def read_logits(artifact):
    """`{text: teacher logits bytes}` of a TransferSet artifact's records."""
    import tensorflow as tf

    from kdkeras.data import examples

    records = {}
    for raw in tf.data.TFRecordDataset(examples.shard_files(artifact.path("Split-train")), compression_type="GZIP"):
        f = tf.train.Example.FromString(raw.numpy()).features.feature
        records[f["text"].bytes_list.value[0]] = bytes(f["teacher_logits"].SerializeToString())
    return records


def benchmark(run_dir, batch_sizes, *, rounds=1, beam_args=None, log=print):
    """Times the run's transfer set at each batch size; returns the results dict.

    Args:
        run_dir: a finished run with `TeacherInference` and `TeacherTrainer`
            (its `TransferSet` parameters are used when it has one).
        batch_sizes: documents per RunInference batch to compare.
        rounds: builds per batch size (taking turns).
        beam_args: Beam options (default: the pipeline's, multi-processing).
        log: progress printer.
    """
    from components.artifacts import load_schema
    from components.base import METADATA_FILE, Artifact
    from components.transfer_set import TransferSet

    inputs = {"examples": Artifact(os.path.join(run_dir, "TeacherInference")),
              "teacher": Artifact(os.path.join(run_dir, "TeacherTrainer"))}
    params = dict(TransferSet.SPEC.parameters)
    if os.path.isfile(os.path.join(run_dir, "TransferSet", METADATA_FILE)):
        params.update(Artifact(os.path.join(run_dir, "TransferSet")).metadata["parameters"])
    rows = {b: {"batch_size": b, "seconds": [], "load_average": []} for b in batch_sizes}
    reference, mismatches = None, {}
    scratch = tempfile.mkdtemp(prefix="transfer_set_batch_")
    try:
        for round_ in range(rounds):
            for b in batch_sizes:
                rows[b]["load_average"].append(round(os.getloadavg()[0], 2))
                started = time.perf_counter()
                artifact = TransferSet(name=f"TransferSet{b}", beam_args=beam_args, **{**params, "batch_size": b}).run(
                    inputs, scratch, force=True, log=lambda *_: None)
                rows[b]["seconds"].append(round(time.perf_counter() - started, 1))
                stats = artifact.metadata["results"]
                counters = stats["counters"]
                rows[b].update(records=stats["records"], logits_computed=counters["logits_computed"],
                               teacher_word_pieces=counters["teacher_word_pieces"],
                               teacher_slots=counters["teacher_slots"], teacher_padding=stats.get("teacher_padding"))
                records = read_logits(artifact)
                if reference is None:
                    reference = records
                else:
                    mismatches[b] = (len(set(records) ^ set(reference))
                                     + sum(records[t] != reference[t] for t in set(records) & set(reference)))
                shutil.rmtree(artifact.uri)
                log(f"batch {b}, round {round_ + 1}: {rows[b]['seconds'][-1]:.0f} s, "
                    f"{100 * (stats.get('teacher_padding') or 0):.0f} % padding")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for row in rows.values():
        row["median_seconds"] = statistics.median(row["seconds"])
    return {
        "run_dir": run_dir, "dataset": load_schema(inputs["examples"])["dataset"],
        "parameters": {k: v for k, v in params.items() if k != "batch_size"}, "rounds": rounds,
        "cpu_count": os.cpu_count(), "rows": [rows[b] for b in batch_sizes],
        "records_differing_from_first": mismatches,
    }


def format_result(result):
    lines = ["| docs / batch | seconds | teacher word pieces | slots computed | padding |",
             "|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['batch_size']} | {r['median_seconds']:.0f} | {r['teacher_word_pieces']:,} | "
                     f"{r['teacher_slots']:,} | {100 * r['teacher_padding']:.0f} % |")
    differing = result["records_differing_from_first"]
    lines.append(f"\nRecords differing from the first batch size's (text or logits, bit for bit): "
                 f"{', '.join(f'{b}: {n}' for b, n in differing.items()) or 'none compared'}.")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pipelines.benchmark_transfer_set",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="a finished run of pipelines.run")
    p.add_argument("--batch-sizes", type=cli.int_list, default=[64, 512], help="documents per RunInference batch")
    p.add_argument("--rounds", type=int, default=1, help="builds per batch size, taking turns")
    p.add_argument("--output", help="results file (default RUN/transfer_set_batch.json)")
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)
    return cli.write_result(
        "pipelines.benchmark_transfer_set", argv, lambda: benchmark(args.run_dir, args.batch_sizes, rounds=args.rounds),
        args.output or os.path.join(args.run_dir, "transfer_set_batch.json"), format_result)


if __name__ == "__main__":
    sys.exit(main())
