"""Interrupted runs: a smoke run killed (SIGKILL) inside each component in turn ends like an uninterrupted one.

The run is started as a subprocess in its own process group, killed while the
next component is working, started again, and so on for every component in
pipeline order; the last start runs to the end. Its report scores, model
weights and exported models must equal those of an uninterrupted run with
the same seed, nothing half-written may be trusted and nothing may be left
behind.

Where each kill lands:
- students: as their second epoch starts, so that they resume from the
  backup of the first (checked: the resumed run starts at epoch 2);
- teacher: inside its only epoch (the smoke profile trains one);
- TeacherInference and Exporter: after they wrote part of their output;
- Evaluator: a moment after it started;
- any component that finishes before its kill point (ExampleGen, Baselines,
  Pusher, or any component on a fast machine): at the worst moment, with its
  whole output written but not yet moved into place. The killed runs go
  through a small driver that holds `components.base._replace_dir` for the
  target component so that the kill lands there.

Files that legitimately differ between two runs are compared by content
instead of by checksum (see `artifact_digests`): `.keras` archives (they
record the save time: their `model.weights.h5` is compared), SavedModels
(TensorFlow orders their variables by memory address and numbers its
functions per process: the variable values are compared), TFRecord shards
(protobuf map order: the records are compared), and timing fields
(`latency_ms_*`, `seconds`, `started`). Everything else is compared byte for
byte: `.tflite` files, tokenizers, labels, histories, the report's scores.

Two students (each trained plain and distilled) keep the test at about 5
minutes on 2 busy cores; each of the 11 kills costs a process start.
"""

import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from tests.helpers import make_docs, write_hedwig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STUDENTS = ("lstm", "lr")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

# Runs the CLI, holding the component named by RESUME_TEST_HOLD between "output written" and "moved into place".
DRIVER = """
import os, sys, time
import components.base as base
replace_dir, hold = base._replace_dir, os.environ.get("RESUME_TEST_HOLD")
def held(src, dst):
    if os.path.basename(dst) == hold:
        print(f"[{hold}] output written", flush=True)
        time.sleep(3600)
    replace_dir(src, dst)
base._replace_dir = held
from pipelines.run import main
sys.exit(main(sys.argv[1:]))
"""


def components():
    """`(name, kill_after_line, delay_s)` in pipeline order; None: kill only once its output is written."""
    # Gradient students are killed in their second evaluation period (just after the line that ends the first,
    # printed once its backup is written); the exact (convex) LR fit after its first regularisation strength.
    kill_at = {s: r"\] C=\d+: dev" if s == "lr" else r"^epoch 1/2: " for s in STUDENTS}
    plain = [(f"StudentTrainer.{s}.seed0", kill_at[s], 0) for s in STUDENTS]
    distilled = [(f"StudentTrainer.kd_{s}.alpha1.seed0", kill_at[s], 0) for s in STUDENTS]
    return [
        ("ExampleGen", None, 0),
        # Its only epoch, just after step 1 (`ProgressLines` always shows the first batch; the next line may come
        # only after the epoch, later steps being fast).
        ("TeacherTrainer", r"^epoch 1: step 1/", 0.05),
        ("TeacherInference", r"teacher logits for \d+ dev documents", 0.3),
        *plain,
        ("Baselines", None, 0),
        *distilled,
        ("Evaluator", r"\[Evaluator\] running", 1.5),
        ("Exporter", r"\[Exporter\] kd_\w+ tflite:", 0.3),
        ("Pusher", None, 0),
    ]


def cli_args(data_dir, out_dir):
    # One job: the students train in the run's own process, where the driver holds `_replace_dir` and the lines
    # come unprefixed (workers are covered by tests/components/parallel_test.py).
    return ["--dataset", "custom", "--data-dir", data_dir, "--profile", "smoke", "--output-dir", out_dir,
            "--students", ",".join(STUDENTS), "--jobs", "1"]


def start_to_end(args, log_path):
    """Starts an uninterrupted run in the background, its output going to `log_path`."""
    with open(log_path, "w") as log:
        return subprocess.Popen([sys.executable, "-u", "-m", "pipelines.run", *args], cwd=ROOT, env=ENV,
                                stdout=log, stderr=subprocess.STDOUT)


def finish(proc, log_path):
    """Waits for a run started by `start_to_end`; returns its output."""
    rc = proc.wait(timeout=900)
    with open(log_path, errors="replace") as f:
        output = f.read()
    assert rc == 0, output[-5000:]
    return output


def run_and_kill(args, name, pattern, delay, run_dir):
    """Starts the run and SIGKILLs its process group inside component `name`.

    Returns how the kill landed, and the run's output.
    """
    proc = subprocess.Popen([sys.executable, "-u", "-c", DRIVER, *args], cwd=ROOT, start_new_session=True,
                            env={**ENV, "RESUME_TEST_HOLD": name}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, bufsize=0)
    lines = queue.Queue()
    reader = threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    log, running, kill_at, how = [], False, None, None
    deadline = time.monotonic() + 600
    try:
        while how is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: no kill point within 10 minutes:\n" + "".join(log[-40:]))
            if kill_at is not None and time.monotonic() >= kill_at:
                how = f"{delay} s after {pattern!r}"
                break
            timeout = 0.05 if kill_at is not None else 1.0
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"{name}: the run ended (rc {proc.wait()}) before the kill:\n"
                                     + "".join(log[-40:]))
            log.append(line)
            if line.startswith(f"[{name}] up to date") or line.startswith(f"[{name}] done"):
                raise AssertionError(f"{name}: finished before the kill:\n" + "".join(log[-40:]))
            if line.startswith(f"[{name}] running"):
                running = True
            if not running:
                continue
            if line.startswith(f"[{name}] output written"):
                how = "output written, not yet moved into place"
            elif pattern and kill_at is None and re.search(pattern, line):
                kill_at = time.monotonic() + delay
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended by itself (the assertion above says why)
            pass
        proc.wait()
        reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert not os.path.exists(os.path.join(run_dir, name, "metadata.json")), f"{name} finished before its kill"
    return how, "".join(log)


def read_lines(stream, lines):
    """Puts the lines of `stream` into the queue `lines` as they arrive, then None.

    Progress bars redraw their line after a carriage return: each redraw counts as a line.
    """
    pending = b""
    while True:
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        *complete, pending = re.split(rb"[\r\n]", pending + chunk)
        for line in complete:
            lines.put(line.decode("utf-8", "replace") + "\n")
    if pending:
        lines.put(pending.decode("utf-8", "replace"))
    lines.put(None)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def keras_weights_digest(path):
    """Checksum of the weights inside a `.keras` archive (its metadata.json records the save time)."""
    with zipfile.ZipFile(path) as archive:
        return hashlib.sha256(archive.read("model.weights.h5")).hexdigest()


def saved_model_digest(path):
    """Checksum of a SavedModel's variable values, independent of their order and names."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
    digests = []
    for key in reader.get_variable_to_shape_map():
        if key == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue
        value = reader.get_tensor(key)
        digests.append(hashlib.sha256(f"{value.dtype}{value.shape}".encode() + value.tobytes()).hexdigest())
    return hashlib.sha256("".join(sorted(digests)).encode()).hexdigest()


def records_digest(directory, num_classes):
    """Checksum of the documents, labels and logits in a split's TFRecord shards."""
    from kdkeras.data import examples

    split, logits = examples.read_split(directory, num_classes, with_logits=True)
    digest = hashlib.sha256("\n".join(split.texts).encode())
    digest.update(split.labels.tobytes())
    digest.update(logits.tobytes())
    return digest.hexdigest()


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items()
                if not k.startswith("latency") and k not in ("seconds", "started")}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def artifact_digests(run_dir):
    """What must be identical between two runs with the same seed: `{what: value}`."""
    out = {}
    with open(os.path.join(run_dir, "report.json")) as f:
        out["report.json models"] = json.load(f)["models"]
    for name in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, name)
        if name.startswith("TeacherTrainer") or name.startswith("StudentTrainer"):
            model = "teacher.keras" if name.startswith("Teacher") else "student.keras"
            out[f"{name}/{model} weights"] = keras_weights_digest(os.path.join(path, model))
            with open(os.path.join(path, "history.json")) as f:
                out[f"{name}/history.json"] = json.load(f)
        if name == "TeacherInference":
            with open(os.path.join(path, "schema.json")) as f:
                num_classes = json.load(f)["num_classes"]
            for split in ("train", "dev", "test"):
                out[f"{name}/Split-{split}"] = records_digest(os.path.join(path, f"Split-{split}"), num_classes)
        if name == "Exporter":
            for student in sorted(os.listdir(path)):
                bundle = os.path.join(path, student)
                if not os.path.isdir(bundle):
                    continue
                out[f"{name}/{student}/saved_model variables"] = saved_model_digest(os.path.join(bundle, "saved_model"))
                with open(os.path.join(bundle, "formats.json")) as f:
                    formats = without_timings(json.load(f))
                formats.get("saved_model", {}).pop("bytes", None)  # variable names vary in length
                out[f"{name}/{student}/formats.json"] = formats
                for d, _, files in os.walk(bundle):
                    rel = os.path.relpath(d, bundle)
                    if rel.split(os.sep)[0] == "saved_model":
                        continue
                    for f in files:
                        if f not in ("formats.json", "model_card.md"):
                            key = f"{name}/{student}/{os.path.normpath(os.path.join(rel, f))}"
                            out[key] = sha256(os.path.join(d, f))
        if name == "Pusher":
            with open(os.path.join(path, "push.json")) as f:
                decisions = json.load(f)
                out["Pusher/push.json"] = {k: {f: v for f, v in d.items() if f != "path"} for k, d in decisions.items()}
    return out


def leftovers(out_dir):
    """Temporary, work and replaced folders still in the output tree."""
    found = []
    for d, dirs, files in os.walk(out_dir):
        for name in dirs + files:
            if name.startswith(".") or ".old-" in name or ".tmp" in name:
                found.append(os.path.relpath(os.path.join(d, name), out_dir))
    return found


@pytest.mark.slow
def test_run_killed_in_every_component_resumes_to_the_same_result(tmp_path):
    data_dir = write_hedwig(str(tmp_path / "toy"),
                            {"train": make_docs(160, 0), "dev": make_docs(40, 1), "test": make_docs(40, 2)})
    ref_out, out = str(tmp_path / "reference"), str(tmp_path / "killed")
    ref_dir, run_dir = (os.path.join(o, "custom", "smoke") for o in (ref_out, out))
    started = time.monotonic()
    finish(start_to_end(cli_args(data_dir, ref_out), str(tmp_path / "reference.log")), str(tmp_path / "reference.log"))

    kills, logs = {}, []
    for name, pattern, delay in components():
        kills[name], log = run_and_kill(cli_args(data_dir, out), name, pattern, delay, run_dir)
        logs.append(log)
    # The trainers were killed inside training, not once it was over.
    assert all(not how.startswith("output") for name, how in kills.items() if "Trainer" in name), kills
    final = finish(start_to_end(cli_args(data_dir, out), str(tmp_path / "final.log")), str(tmp_path / "final.log"))
    logs.append(final)
    assert final.count("] running") == 1 and "[Pusher] running" in final  # everything else was finished
    print(f"\n{len(kills)} killed runs, a final run and the reference in {time.monotonic() - started:.0f} s")
    for name, how in kills.items():
        print(f"  {name}: killed {how}")
    # Gradient students killed in their second epoch resumed there from the backup of the first.
    for i, (name, _, _) in enumerate(components()):
        if name.startswith("StudentTrainer") and ".lr." not in name and "_lr." not in name:
            resumed = logs[i + 1].split(f"[{name}] running", 1)[1].split(f"[{name}] done", 1)[0]
            assert "epoch 2/2: " in resumed and "epoch 1: " not in resumed, (name, resumed[-2000:])

    assert leftovers(out) == []
    serving = os.path.join(out, "custom", "serving")
    assert {s: sorted(os.listdir(os.path.join(serving, s))) for s in os.listdir(serving)} == {
        f"kd_{s}": ["1"] for s in STUDENTS}  # the killed Pusher's push is not repeated as version 2
    expected, got = artifact_digests(ref_dir), artifact_digests(run_dir)
    assert set(got) == set(expected)
    assert [k for k in expected if got[k] != expected[k]] == []
