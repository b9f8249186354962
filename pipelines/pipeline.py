"""The distillation pipeline:

ExampleGen → TeacherTrainer → TeacherInference → [TransferSet] → StudentTrainer
(each student, plain and distilled, each seed) → Baselines → Evaluator →
Exporter → Pusher. TransferSet (Beam: augmented train split with teacher logits, plus any
unlabelled documents) runs when the augment multiplier is above 1 or there
are unlabelled documents; distilled students then train on it. The students
of one stage (plain with the baselines; the distilled students of the λ
grid; the chosen λ's other seeds) train side by side in `jobs` worker
processes (`components.parallel`).
"""

import os

from components.artifacts import REPORT_FILE, student_name
from components.base import print_line, removed_on_failure, write_json
from components.baselines import Baselines
from components.evaluator import Evaluator
from components.example_gen import ExampleGen
from components.exporter import Exporter
from components.pusher import Pusher
from components.student_trainer import StudentTrainer
from components.teacher_inference import TeacherInference
from components.teacher_trainer import TeacherTrainer
from components.transfer_set import TransferSet
from kdkeras import names
from kdkeras.models import backbones
from components.lock import RunLock
from components.parallel import run_components
from pipelines.results import distillation_gaps, format_gaps
from kdkeras.paths import check_name, check_output_dir, safe_join

DEFAULT_STUDENTS = names.STUDENTS
BASELINES = ("lr", "svm")


def run_pipeline(dataset, config, *, output_dir="saved_models", data_dir=None, run_id=None,
                 multi_label=None, force=False, students=DEFAULT_STUDENTS, baselines=True, beam_args=None,
                 skip_bad_rows=False, unlabeled=None, jobs=1, log=print_line):
    """Runs the whole job and writes `report.json` in the run directory.

    Nothing is left behind when the input data is bad: if ExampleGen fails
    on a first run, the folders it created are removed. A later failure
    keeps the finished artifacts (they are complete, and reused when the
    run is started again) but writes no report.

    Args:
        dataset: dataset name.
        config: from `pipelines.configs.build_config`.
        output_dir: root of all runs.
        data_dir: dataset folder (None: the vendored copy).
        run_id: run directory name (default: the profile name).
        multi_label: override the dataset's task type (custom data).
        force: recompute every component.
        students: student names to train, each without and with KD.
        baselines: also fit the scikit-learn LR and SVM baselines.
        beam_args: Beam pipeline options for the TransferSet component.
        skip_bad_rows: skip and count malformed data rows instead of
            stopping (ExampleGen's results and the report hold the counts).
        unlabeled: a file of unlabelled documents; the teacher labels them
            and they join the transfer set (which then runs even without
            augmentation) as records without labels.
        jobs: students (and baselines) trained at once, each in a worker
            process with its share of the cores (`components.parallel`).
        log: receives every progress line.

    Returns:
        `(report, run_dir)`.

    Raises:
        kdkeras.paths.UnsafePathError: `dataset` or `run_id` is not a plain
            directory name.
        kdkeras.paths.OutputDirError: `output_dir` is a file or cannot be
            written.
        components.lock.RunLockedError: another process is writing the run
            directory.
    """
    run_dir = safe_join(output_dir, check_name(dataset, "dataset"),
                        check_name(run_id or config["profile"], "run id"))
    check_output_dir(output_dir, "--output-dir")
    _check_teacher_backbone(config["teacher"].get("backbone"))
    lock = RunLock(run_dir)
    try:
        with removed_on_failure(run_dir):  # a first run that fails here leaves no folders behind
            lock.acquire()  # one writer per run directory
            examples = ExampleGen(
                dataset=dataset, data_dir=data_dir, multi_label=multi_label, max_docs=config["max_docs"],
                skip_bad_rows=skip_bad_rows, unlabeled=unlabeled,
            ).run({}, run_dir, force, log)
        if lock.taken_over:
            log(f"[run] took over the lock of pid {lock.taken_over.get('pid')}, which ended without releasing it")
        return _run_components(dataset, config, output_dir, run_dir, examples, force, students, baselines,
                               beam_args, unlabeled, jobs, log)
    finally:
        lock.release()


def builds_transfer_set(config, unlabeled):
    """Whether a run builds a transfer set (and its distilled students train on it).

    Args:
        config: the run's configuration (`augment_multiplier`).
        unlabeled: whether the run has unlabelled text.
    """
    return config["augment_multiplier"] > 1 or bool(unlabeled)


def teacher_inference_length(config):
    """Word pieces the teacher reads for its logits, or None for its training length.

    `config["teacher_inference_length"]` when it is above the teacher's
    training length and the teacher reads one window (a windowed teacher
    reads windows of its training length).
    """
    teacher = config["teacher"]
    length = config.get("teacher_inference_length")
    if not length or (teacher.get("windows") or 1) > 1 or length <= teacher["sequence_length"]:
        return None
    return length


def _run_components(dataset, config, output_dir, run_dir, examples, force, students, baselines, beam_args,
                    unlabeled, jobs, log):
    """Everything after ExampleGen (see `run_pipeline`)."""
    teacher = TeacherTrainer(seed=config["seed"], **config["teacher"]).run({"examples": examples}, run_dir, force, log)
    reads = teacher_inference_length(config)
    logits = TeacherInference(sequence_length=reads).run({"examples": examples, "teacher": teacher}, run_dir, force,
                                                         log)
    seeds = [config["seed"] + k for k in range(config["seeds"])]
    kd_inputs = {"examples": logits}
    if builds_transfer_set(config, unlabeled):
        ts_inputs = {"examples": logits, "teacher": teacher}  # the originals keep TeacherInference's logits
        if unlabeled:
            ts_inputs["unlabeled"] = examples
        kd_inputs["transfer_set"] = TransferSet(
            multiplier=config["augment_multiplier"], augment_seed=config["seed"], beam_args=beam_args,
            teacher_sequence_length=reads, **config["augment"],
        ).run(ts_inputs, run_dir, force, log)
    # Plain students (and the baselines) first: the teacher is checked against them before distilling.
    trained = _train_plain(config, students, seeds, examples, baselines, run_dir, jobs, force, log)
    inputs = {"examples": examples, "teacher_logits": logits, "teacher": teacher}
    if baselines:
        inputs["baselines"] = trained.pop("baselines")
    (teacher_scores,) = logits.metadata["results"].values()  # the logits the students learn from
    check = teacher_check(teacher_scores["dev"], trained, inputs.get("baselines"), students)
    for line in check["lines"]:
        log(line)
    distillation = _distil(config, students, seeds, kd_inputs, trained, run_dir, jobs, force, log)
    # Table order: each student next to its distilled twin.
    inputs["students"] = {f"{model}/seed{seed}": trained[f"{model}/seed{seed}"]
                          for student in students for model in (student, f"kd_{student}") for seed in seeds}
    evaluation = Evaluator().run(inputs, run_dir, force, log)
    first = {key.split("/")[0]: a for key, a in reversed(list(inputs["students"].items()))}
    to_export = {name: a for name, a in first.items() if name.startswith("kd_")}
    exports = Exporter().run({"examples": examples, "students": to_export, "evaluation": evaluation},
                             run_dir, force, log)
    Pusher(serving_dir=os.path.join(output_dir, dataset, "serving")).run(
        {"exports": exports, "evaluation": evaluation}, run_dir, force, log)
    results = evaluation.metadata["results"]
    for student in students:
        distillation[f"kd_{student}"]["gap_closed"] = distillation_gaps(results["models"], student)
    report = {
        "dataset": dataset,
        "metric": results["metric"],
        "profile": config["profile"],
        "models": results["models"],
        "teacher_check": {k: v for k, v in check.items() if k != "lines"},
        "distillation": distillation,
        "config": config,
    }
    skipped = examples.metadata["results"].get("skipped_rows")
    if skipped is not None:
        report["skipped_rows"] = {"total": skipped["total"], "splits": skipped["splits"],
                                  "reasons": skipped["reasons"]}
    write_json(os.path.join(run_dir, REPORT_FILE), report)
    return report, run_dir


def student_settings(config, student, distill=False):
    """StudentTrainer settings for `student` from a run's config.

    A student's `distilled_hparams` (e.g. `{"dropout": 0.0}`) replace its
    hyperparameters in the distilled twin only: the teacher's soft targets
    regularise, so a distilled student can want less dropout than its plain
    twin.

    Example:
    >>> student_settings(config, "kimcnn", distill=True)["hparams"]["dropout"]
    0.0
    """
    settings = {**config["student"], **config["students"][student]}
    distilled = settings.pop("distilled_hparams", None) or {}
    if distill and distilled:
        settings["hparams"] = {**settings.get("hparams", {}), **distilled}
    return settings


def _train_plain(config, students, seeds, examples, baselines, run_dir, jobs, force, log):
    """The plain students of every seed, and the baselines (key "baselines"), side by side: key → Artifact."""
    tasks = {}
    for student in students:
        settings = student_settings(config, student)
        exact = StudentTrainer.solves_exactly(dict(student=student, **settings))  # every seed, the same model
        for seed in seeds[:1] if exact else seeds:
            tasks[f"{student}/seed{seed}"] = (StudentTrainer(
                name=student_name(student, seed=seed), student=student, distill=False, seed=seed, **settings,
            ), {"examples": examples})
    if baselines:
        tasks["baselines"] = (Baselines(kinds=list(BASELINES), seed=config["seed"]), {"examples": examples})
    trained = run_components(tasks, run_dir, jobs=jobs, force=force, log=log)
    for student in students:
        for seed in seeds:
            trained.setdefault(f"{student}/seed{seed}", trained[f"{student}/seed{seeds[0]}"])
    return trained


def choose_alpha(dev_runs):
    """λ with the best mean dev score over seeds; ties go to the smaller λ (0, not distilling, first).

    Args:
        dev_runs: `{λ: [dev score per seed]}`, the grid's 0 (the plain student) included.

    Returns:
        `(λ, {λ: mean dev score})`.

    Example:
    >>> choose_alpha({0.0: [89.5, 89.5], 0.25: [90.0, 88.5]})  # seed 0 alone would pick 0.25
    (0.0, {0.0: 89.5, 0.25: 89.25})
    """
    means = {alpha: sum(scores) / len(scores) for alpha, scores in dev_runs.items()}
    return max(means, key=lambda alpha: (means[alpha], -alpha)), means


def _distil(config, students, seeds, kd_inputs, trained, run_dir, jobs, force, log):
    """The distilled students: every λ of the grid at every seed, λ chosen on the mean dev score over seeds.

    λ = 0 is the plain student itself (not distilling, by construction). One
    seed's dev score is a noisy guide when the candidates are within a seed
    std of each other, so each candidate trains at all of the run's seeds
    (an exact, seed-free fit once) and the mean decides. Adds
    `kd_<student>/seed<s>` to `trained` and returns the report's
    `distillation` section.
    """
    temperature = config["temperature"]

    def task(student, alpha, seed):
        return StudentTrainer(
            name=student_name(student, seed=seed, alpha=alpha), student=student, distill=True, alpha=alpha,
            temperature=temperature, seed=seed, **student_settings(config, student, distill=True)), kd_inputs

    def seed_free(student, alpha):
        return StudentTrainer.solves_exactly(dict(student=student, distill=alpha > 0, alpha=alpha,
                                                  temperature=temperature, **student_settings(config, student, distill=True)))

    grid = [config["alpha"]] if config.get("alpha") is not None else list(config["alpha_grid"])
    tasks = {(student, alpha, seed): task(student, alpha, seed)
             for student in students for alpha in grid if alpha > 0
             for seed in (seeds[:1] if seed_free(student, alpha) else seeds)}
    runs = run_components(tasks, run_dir, jobs=jobs, force=force, log=log)

    def artifact(student, alpha, seed):
        if alpha == 0:
            return trained[f"{student}/seed{seed}"]
        return runs.get((student, alpha, seed), runs[(student, alpha, seeds[0])])  # seed-free: one fit

    chosen_on = f"dev, seed {seeds[0]}" if len(seeds) == 1 else f"dev, mean of seeds {', '.join(map(str, seeds))}"
    distillation = {}
    for student in students:
        alpha, dev = choose_alpha({value: [artifact(student, value, seed).metadata["results"]["dev_score"]
                                           for seed in seeds] for value in grid})
        if len(grid) > 1:
            log(f"[{student}] λ chosen on {chosen_on}: {alpha:g} "
                f"({', '.join(f'λ={v:g}: {dev[v]:.2f}' for v in grid)})")
        distillation[f"kd_{student}"] = {"alpha": alpha, "alpha_grid": grid, "chosen_on": chosen_on,
                                         "dev_by_alpha": {f"{v:g}": dev[v] for v in grid},
                                         "fixed": len(grid) == 1}
        for seed in seeds:
            trained[f"kd_{student}/seed{seed}"] = artifact(student, alpha, seed)
    return distillation


def teacher_check(teacher_dev, trained, baselines, students):
    """Compares the teacher with the plain students and the baselines on dev, before distilling.

    A teacher that is not above a student on dev has little to teach it:
    the λ grid (which includes 0, the plain student) then protects the
    distilled student, and the check says so in the log and the report.

    Args:
        teacher_dev: the teacher's dev score, from the logits the students
            learn from (TeacherInference).
        trained: `"<student>/seed<k>"` → plain StudentTrainer artifact.
        baselines: the Baselines artifact, or None.
        students: the students of the run.

    Returns:
        `{"teacher_dev", "dev": {model: mean dev score}, "below_teacher",
        "not_below_teacher", "warning", "lines"}`.
    """
    dev = {}
    for student in students:
        scores = [a.metadata["results"]["dev_score"] for key, a in trained.items() if key.split("/")[0] == student]
        dev[student] = sum(scores) / len(scores)
    if baselines is not None:
        dev.update({name: row["dev"] for name, row in baselines.metadata["results"].items()})
    above = sorted(name for name, score in dev.items() if score >= teacher_dev)
    lines = [f"[teacher check] teacher dev {teacher_dev:.2f}; "
             + ", ".join(f"{name} {score:.2f}" for name, score in dev.items())]
    warning = None
    if above:
        warning = (f"the teacher (dev {teacher_dev:.2f}) is not above {', '.join(above)} on dev: distillation may "
                   "not help them; λ is chosen on dev from a grid that includes 0 (no distillation)")
        lines.append(f"[teacher check] warning: {warning}")
    return {"teacher_dev": teacher_dev, "dev": dev, "not_below_teacher": above,
            "below_teacher": sorted(set(dev) - set(above)), "warning": warning, "lines": lines}


def _check_teacher_backbone(name):
    """Fails early (before any artifact is written) on a teacher folder that cannot be loaded."""
    if name and name not in ("minilm", "tiny") and (os.path.sep in name or name.startswith(".") or os.path.isdir(name)):
        backbones.resolve(name)  # raises BackboneError naming the folder


def format_report(report):
    """A Table-2-style text table of the report (mean ± std over seeds).

    For multi-label data a last column gives the test score of the label sets
    the exported bundles serve (at least one label per document).
    """
    metric = report["metric"]
    served = report["metric"] != "accuracy" and any("test_served" in r for r in report["models"].values())
    lines = [
        f"{report['dataset']} ({report['profile']} profile), {metric} in %",
        f"{'model':<11} {'dev':>14} {'test':>14} {'runs':>5} {'params':>12}" + ("   test (served)" if served else ""),
    ]
    distillation = report.get("distillation", {})
    for name, row in report["models"].items():
        cells = []
        for split in ("dev", "test"):
            std = row.get(f"{split}_std")
            cells.append(f"{row[split]:7.2f} ± {std:4.2f}" if std is not None and len(row.get(f"{split}_runs", [])) > 1
                         else f"{row[split]:14.2f}")
        runs = len(row.get("test_runs", [None]))
        note = f"  λ={distillation[name]['alpha']:g}" if name in distillation else ""
        if served:
            note = (f"{row['test_served']:16.2f}" if "test_served" in row else f"{'':16}") + note
        lines.append(f"{name:<11} {cells[0]:>14} {cells[1]:>14} {runs:5d} {row['params']:12,d}{note}")
    gaps = [f"{name} {text}" for name, choice in distillation.items()
            if (text := format_gaps(choice.get("gap_closed") or {}))]
    if gaps:
        lines.append("gap to the teacher closed by distillation (dev / test): " + ", ".join(gaps))
    warning = report.get("teacher_check", {}).get("warning")
    if warning:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
