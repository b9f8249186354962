"""Student sweeps over a finished run: `python -m pipelines.sweep --run-dir RUN --vary alpha=0.25,1,4`.

Trains one student per value of one setting (times seeds) against the
run's stored examples and teacher logits, so the teacher is never
retrained, scores every run with the Evaluator and writes
`RUN/sweeps/<name>/sweep.json` and `sweep.png` (dev and test mean ± std
against the value). Finished student artifacts are reused, so an interrupted
sweep resumes.

With `--teacher` the teacher itself is retrained once per value of one of
its settings (sequence length, epochs, learning rate, ...) and scored on dev
and test; the run's own teacher is reused for the value it was trained with.

Examples (the paper's Figure 1, a λ sweep and Figure 2):

    python -m pipelines.sweep --run-dir saved_models/reuters/quick --student lstm --vary hidden_dim=32,64,128,256,512
    python -m pipelines.sweep --run-dir saved_models/reuters/quick --student lstm --vary alpha=0,0.1,1 --seeds 3
    python -m pipelines.sweep --run-dir saved_models/reuters/quick --teacher --vary sequence_length=32,64,128
"""

import argparse
import json
import os
import sys

from components.base import print_line
from kdkeras import names
from kdkeras.paths import check_name, safe_join
from pipelines import cli

SWEEP_FILE = "sweep.json"
TEACHERS_DIR = "teachers"
# StudentTrainer parameters a sweep does not vary (the others, and every student hyperparameter, it can).
FIXED_TRAINER_KEYS = ("student", "seed", "hparams", "distribute")
# Not a StudentTrainer parameter: distil on the run's transfer set (true) or on the train split alone (false).
TRANSFER_SET_KEY = "transfer_set"


def parse_values(text):
    """`"0.1,1,abc,true"` → `[0.1, 1, "abc", True]` (JSON scalars, else strings)."""
    values = []
    for item in text.split(","):
        item = item.strip()
        try:
            values.append(json.loads(item))
        except json.JSONDecodeError:
            values.append(item)
    return values


def parse_assignment(text):
    """`"key=v1,v2"` → `("key", [v1, v2])`."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,VALUE...], got {text!r}")
    return key.strip(), parse_values(values)


def trainer_keys():
    """The StudentTrainer parameters a sweep may vary; any other key is a student hyperparameter."""
    from components.student_trainer import StudentTrainer

    return tuple(k for k in StudentTrainer.SPEC.parameters if k not in FIXED_TRAINER_KEYS)


def student_settings(config, student, distill, overrides):
    """StudentTrainer parameters for `student` from a run's config plus `overrides`."""
    from pipelines.pipeline import student_settings as run_settings

    keys = trainer_keys()
    settings = run_settings(config, student, distill=bool(overrides.get("distill", distill)))
    settings["hparams"] = dict(settings.get("hparams", {}))
    alpha = config["alpha"] if config.get("alpha") is not None else config["paper"]["alpha"]
    params = dict(distill=distill, alpha=alpha, temperature=config["temperature"])
    for key, value in {**settings, **overrides}.items():
        if key == "hparams":
            continue
        if key in keys or key == TRANSFER_SET_KEY:
            params[key] = value
        else:
            settings["hparams"][key] = value
    params["hparams"] = settings["hparams"]
    return params


def run_sweep(run_dir, student, key, values, *, seeds=1, distill=True, fixed=None, name=None, force=False, jobs=1,
              log=print_line, command=None):
    """Trains `student` once per value of `key` (and seed) on a finished run's artifacts.

    Args:
        run_dir: a run directory written by `pipelines.run` (has report.json).
        student: student name (`kdkeras.names.STUDENTS`).
        key: StudentTrainer parameter (e.g. "alpha", "temperature",
            "updates", "word_vectors", "distill"), "transfer_set" (distil on
            the run's transfer set or on the train split alone) or student hyperparameter
            (e.g. "hidden_dim").
        values: the values of `key` to train with.
        seeds: runs per value (seeds s..s+N-1 with s the run's seed).
        distill: train with KD (unless `key` is "distill").
        fixed: other settings held at a value for the whole sweep.
        name: sweep directory name (default `<model>-<key>`).
        force: retrain finished runs.
        jobs: students trained at once, each in a worker process with its
            share of the cores (`components.parallel.run_components`).
        log: progress printer.
        command: the command line, kept in sweep.json.

    Returns:
        `(result, sweep_dir)`; result is what `sweep.json` holds.
    """
    from components.artifacts import has_split, student_name
    from components.base import write_json
    from components.evaluator import Evaluator
    from components.parallel import run_components
    from components.student_trainer import StudentTrainer
    from pipelines.pipeline import builds_transfer_set
    from kdkeras import plots

    run, report = _run_and_report(run_dir)
    config = report["config"]
    chosen = report.get("distillation", {}).get(f"kd_{student}", {}).get("alpha")
    if config.get("alpha") is None and chosen:  # the run chose λ on dev: hold it at its choice
        config = {**config, "alpha": chosen}
    if student not in config["students"]:
        raise ValueError(f"unknown student {student!r}; the run knows {', '.join(config['students'])}")
    examples, logits, teacher = run.examples, run.teacher_logits, run.teacher
    # The run's distilled students trained on its transfer set.
    has_transfer_set = builds_transfer_set({"augment_multiplier": 1, **config}, has_split(examples, "unlabeled"))
    model = ("kd_" if distill and key != "distill" else "") + student
    sweep_dir = safe_join(run_dir, "sweeps", check_name(name or f"{model}-{key}", "sweep name"))
    tasks = {}
    for value in values:
        params = student_settings(config, student, distill, {**(fixed or {}), key: value})
        use_transfer_set = params.pop(TRANSFER_SET_KEY, has_transfer_set)
        inputs = {"examples": examples}
        if params["distill"]:
            inputs = {"examples": logits}
            if use_transfer_set:
                if not has_transfer_set:
                    raise ValueError(f"{run_dir}: the run has no transfer set (it ran with --augment-multiplier 1 "
                                     "and no --unlabeled text)")
                inputs["transfer_set"] = run.transfer_set
        tag = f"{key}={value}"
        for k in range(seeds):
            seed = config["seed"] + k
            tasks[f"{tag}/seed{seed}"] = StudentTrainer(
                name=student_name(student, seed=seed, tag=f"{key}{value}"), student=student, seed=seed, **params,
            ), inputs
    trained = run_components(tasks, sweep_dir, jobs=jobs, force=force, log=log)
    evaluation = Evaluator().run(
        {"examples": examples, "teacher_logits": logits, "teacher": teacher, "students": trained}, sweep_dir, force, log
    )
    rows = evaluation.metadata["results"]["models"]
    result = {
        "run_dir": run_dir, "student": student, "model": model, "key": key, "fixed": fixed or {},
        "metric": evaluation.metadata["results"]["metric"], "teacher": rows["teacher"],
        "values": values, "runs": [rows[f"{key}={v}"] for v in values], "command": command,
    }
    write_json(os.path.join(sweep_dir, SWEEP_FILE), result)
    plots.sweep(result, os.path.join(sweep_dir, "sweep.png"))
    return result, sweep_dir


def run_teacher_sweep(run_dir, key, values, *, seeds=1, fixed=None, name=None, force=False, log=print_line, command=None):
    """Retrains the run's teacher once per value of `key` (and seed) and scores it on dev and test.

    Args:
        run_dir: a run directory written by `pipelines.run` (has report.json).
        key: a TeacherTrainer parameter, e.g. "sequence_length", "epochs",
            "learning_rate", "pooling"; or `"inference_length"`: the word
            pieces the teacher reads for its logits (TeacherInference's
            `sequence_length`), the teachers trained as the run's.
        values: the values of `key` to train with.
        seeds: trainings per value (seeds s..s+N-1 with s the run's seed).
        fixed: other teacher settings held at a value for the whole sweep.
        name: sweep directory name (default `teacher-<key>`).
        force: retrain finished teachers.
        log: progress printer.
        command: the command line, kept in sweep.json.

    Returns:
        `(result, sweep_dir)`; result is what `sweep.json` holds (the same
        layout as a student sweep, with `"model": "teacher"` and the
        training time of each teacher).
    """
    import numpy as np

    from components.base import write_json
    from components.teacher_inference import TeacherInference
    from components.teacher_trainer import TeacherTrainer
    from kdkeras import plots

    run, report = _run_and_report(run_dir)
    reading = key == INFERENCE_LENGTH
    if (key not in TeacherTrainer.SPEC.parameters or key == "seed") and not reading:
        raise ValueError(f"{key!r} is not a teacher setting; choose from "
                         + ", ".join([*(k for k in TeacherTrainer.SPEC.parameters if k != "seed"), INFERENCE_LENGTH]))
    examples, run_teacher = run.examples, run.teacher
    base = {k: v for k, v in run_teacher.metadata["parameters"].items() if k in TeacherTrainer.SPEC.parameters}
    sweep_dir = safe_join(run_dir, "sweeps", check_name(name or f"teacher-{key}", "sweep name"))
    teachers_dir = os.path.join(run_dir, "sweeps", TEACHERS_DIR)  # shared by all teacher sweeps of the run
    metric = report["metric"]
    reads = run.teacher_logits.metadata["parameters"].get("sequence_length")  # the run's inference length
    runs = []
    for value in values:
        scores = {"dev": [], "test": []}
        seconds = []
        for k in range(seeds):
            params = {**base, **(fixed or {}), "seed": report["config"]["seed"] + k}
            length = _reads(value if reading else reads, params)
            if not reading:
                params[key] = value
            changed = {k: v for k, v in params.items() if k != "seed" and v != base.get(k)}
            tag = ".".join(f"{k}{v}" for k, v in sorted(changed.items())) or "run"
            if params == base:  # the run's own teacher: same recipe, already trained
                teacher = run_teacher
            else:
                teacher = TeacherTrainer(name=f"TeacherTrainer.{tag}.seed{params['seed']}", **params).run(
                    {"examples": examples}, teachers_dir, force, log)
            if params == base and length == reads:  # and scored
                inference = run.teacher_logits
            else:
                read_tag = f".{INFERENCE_LENGTH}{value}" if reading else ""
                inference = TeacherInference(name=f"TeacherInference.{tag}{read_tag}.seed{params['seed']}",
                                             splits=["dev", "test"], sequence_length=length).run(
                    {"examples": examples, "teacher": teacher}, teachers_dir, force, log)
            for split in scores:
                scores[split].append(inference.metadata["results"][f"teacher_{metric}"][split])
            seconds.append(teacher.metadata["seconds"])
        row = {"params": teacher.metadata["results"]["params"], "train_seconds": seconds}
        for split, runs_ in scores.items():
            row.update({split: float(np.mean(runs_)), f"{split}_mean": float(np.mean(runs_)),
                        f"{split}_std": float(np.std(runs_)), f"{split}_runs": runs_})
        runs.append(row)
    os.makedirs(sweep_dir, exist_ok=True)
    teacher_row = report["models"]["teacher"] if "models" in report else {}
    result = {
        "run_dir": run_dir, "model": "teacher", "key": key, "fixed": fixed or {}, "base": base, "metric": metric,
        "teacher": {"dev": teacher_row.get("dev"), "test": teacher_row.get("test"), "params": teacher_row.get("params")},
        "values": values, "runs": runs, "command": command,
    }
    write_json(os.path.join(sweep_dir, SWEEP_FILE), result)
    plots.sweep(result, os.path.join(sweep_dir, "sweep.png"))
    return result, sweep_dir


INFERENCE_LENGTH = "inference_length"  # the teacher sweep key that varies how much the teacher reads, not how it trains


def _reads(sequence_length, params):
    """The inference length a swept teacher reads at (the run's), or None for one that reads windows."""
    return sequence_length if params.get("windows", 1) <= 1 else None


def _run_and_report(run_dir):
    """`(RunDir, report dict)` of a finished run; `FileNotFoundError` naming the report if it has none."""
    from components.artifacts import REPORT_FILE, RunDir

    run = RunDir(run_dir)
    if not os.path.exists(run.file(REPORT_FILE)):
        raise FileNotFoundError(f"{run.file(REPORT_FILE)}: not found; run `python -m pipelines.run` for this run "
                                "first")
    return run, run.report()


def format_sweep(result):
    lines = [f"{result['model']} over {result['key']} ({result['metric']} in %, mean ± std over seeds)",
             f"{result['key']:>16} {'dev':>14} {'test':>14} {'params':>11}"]
    for value, row in zip(result["values"], result["runs"]):
        lines.append(f"{str(value):>16} {row['dev_mean']:7.2f} ± {row['dev_std']:4.2f} "
                     f"{row['test_mean']:7.2f} ± {row['test_std']:4.2f} {row['params']:11,d}")
    t = result["teacher"]
    lines.append(f"{'teacher':>16} {t['dev']:14.2f} {t['test']:14.2f} {t['params']:11,d}")
    return "\n".join(lines)


def parser():
    p = argparse.ArgumentParser(prog="python -m pipelines.sweep", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="a finished run of pipelines.run")
    p.add_argument("--student", default="lstm", choices=names.STUDENTS)
    p.add_argument("--teacher", action="store_true", help="sweep a teacher setting (retrains the teacher)")
    p.add_argument("--vary", required=True, type=parse_assignment, metavar="KEY=V1,V2,...",
                   help="the setting to sweep: a StudentTrainer parameter (updates, alpha, learning_rate, "
                        f"max_tokens, ...), {TRANSFER_SET_KEY}, or a student hyperparameter; with --teacher a "
                        f"TeacherTrainer parameter, or {INFERENCE_LENGTH} (word pieces read for logits)")
    p.add_argument("--set", action="append", default=[], type=parse_assignment, metavar="KEY=VALUE",
                   help="hold another setting at a value (repeatable)")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--no-kd", action="store_true", help="train without distillation")
    p.add_argument("--name", help="sweep directory name under RUN/sweeps/")
    p.add_argument("--force", action="store_true")
    p.add_argument("--jobs", type=cli.positive_int, metavar="N",
                   help="students trained at once, each with its share of the cores (default: one per core, at "
                        "most 4; 1 with a GPU)")
    cli.add_verbose(p)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    cli.quiet_console(args)
    key, values = args.vary
    fixed = {k: v[0] if len(v) == 1 else v for k, v in args.set}
    command = cli.command_line("pipelines.sweep", argv)
    import contextlib

    from components.lock import RunLock, RunLockedError

    try:
        # One writer per run directory (a missing one is reported by the sweep itself).
        lock = RunLock(args.run_dir, command) if os.path.isdir(args.run_dir) else contextlib.nullcontext()
        with lock:
            if args.teacher:
                result, sweep_dir = run_teacher_sweep(args.run_dir, key, values, seeds=args.seeds, fixed=fixed,
                                                      name=args.name, force=args.force, command=command)
            else:
                result, sweep_dir = run_sweep(args.run_dir, args.student, key, values, seeds=args.seeds,
                                              distill=not args.no_kd, fixed=fixed, name=args.name, force=args.force,
                                              jobs=cli.jobs(args.jobs), command=command)
    except (FileNotFoundError, ValueError, RunLockedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print()
    print(format_sweep(result))
    print(f"\nsweep: {os.path.join(sweep_dir, SWEEP_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
