import os
import subprocess
import sys
import time

import pytest

from components import parallel
from components.base import REQUIRED, Component, ComponentSpec


class Sleeper(Component):
    """Writes its pid into `pid_file`, then sleeps: a component to kill the run under."""

    SPEC = ComponentSpec(inputs=(), parameters=dict(pid_file=REQUIRED))

    def execute(self, inputs, output_dir, work_dir):
        with open(self.parameters["pid_file"], "w") as f:
            f.write(str(os.getpid()))
        time.sleep(600)


# Runs two Sleepers in workers; killed from the test.
DRIVER = """
import sys
from components import parallel
from tests.components.parallel_test import Sleeper
root, a, b = sys.argv[1:]
parallel.run_components({"a": (Sleeper(name="A", pid_file=a), {}), "b": (Sleeper(name="B", pid_file=b), {})},
                        root, jobs=2)
"""


class Worker(Component):
    """Writes the process it ran in and TensorFlow's thread setting; prints a line the way Keras does."""

    SPEC = ComponentSpec(inputs=(), parameters=dict(value=REQUIRED, fail=False))

    def execute(self, inputs, output_dir, work_dir):
        import tensorflow as tf

        if self.parameters["fail"]:
            raise ValueError(f"bad value {self.parameters['value']}")
        print(f"epoch 1: step 1/1 · value {self.parameters['value']}", flush=True)
        self.log("working")
        with open(os.path.join(output_dir, "pid.txt"), "w") as f:
            f.write(str(os.getpid()))
        return {"value": self.parameters["value"], "threads": tf.config.threading.get_intra_op_parallelism_threads()}


def test_components_run_side_by_side_in_workers_and_are_then_reused(tmp_path):
    lines = []
    tasks = {key: (Worker(name=f"W{key}", value=key), {}) for key in (1, 2, 3)}
    artifacts = parallel.run_components(tasks, str(tmp_path), jobs=2, log=lines.append)
    assert list(artifacts) == [1, 2, 3]
    pids = {open(a.path("pid.txt")).read() for a in artifacts.values()}
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2  # two workers share three components
    for key, artifact in artifacts.items():
        assert artifact.metadata["results"]["value"] == key
        assert artifact.metadata["results"]["threads"] == max(1, parallel.usable_cores() // 2)
        # The worker's own lines and what it printed reach the caller's log, named.
        assert f"[W{key}] working" in lines and f"[W{key}] epoch 1: step 1/1 · value {key}" in lines
        assert any(line.startswith(f"[W{key}] done in ") for line in lines)
    assert lines[0].startswith("[run] 3 components, 2 at a time")

    lines.clear()
    again = parallel.run_components(tasks, str(tmp_path), jobs=2, log=lines.append)
    assert [a.uri for a in again.values()] == [a.uri for a in artifacts.values()]
    assert lines == [f"[W{key}] up to date, reusing {artifacts[key].uri}" for key in (1, 2, 3)]


def test_one_job_runs_in_this_process(tmp_path):
    artifacts = parallel.run_components({"a": (Worker(name="A", value=1), {})}, str(tmp_path), jobs=4,
                                        log=lambda line: None)
    assert open(artifacts["a"].path("pid.txt")).read() == str(os.getpid())


def test_the_error_of_a_worker_reaches_the_caller_and_leaves_no_artifact(tmp_path):
    tasks = {"good": (Worker(name="Good", value=1), {}), "bad": (Worker(name="Bad", value=2, fail=True), {})}
    with pytest.raises(ValueError, match="bad value 2"):
        parallel.run_components(tasks, str(tmp_path), jobs=2, log=lambda line: None)
    assert not os.path.exists(tmp_path / "Bad")
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".Bad.tmp")]


def test_components_of_one_stage_need_distinct_names(tmp_path):
    tasks = {1: (Worker(name="Same", value=1), {}), 2: (Worker(name="Same", value=2), {})}
    with pytest.raises(ValueError, match="distinct names"):
        parallel.run_components(tasks, str(tmp_path), jobs=2)


def test_printed_text_is_passed_on_by_whole_lines():
    lines = []
    stream = parallel._Lines(lines.append, "[X] ")
    stream.write("epoch 1: ")
    stream.flush()
    assert lines == []
    stream.write("step 3\n\nstep 4\rstep 5")
    stream.write("\n")
    assert lines == ["[X] epoch 1: step 3", "[X] step 4", "[X] step 5"]


def test_default_jobs_follow_the_cores():
    assert parallel.default_jobs(cores=2) == 2
    assert parallel.default_jobs(cores=64) == 4
    assert parallel.default_jobs(cores=1) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers end with their parent through prctl")
def test_workers_end_when_the_run_is_killed(tmp_path):
    # A run killed with SIGKILL leaves no worker writing its directory (its lock is gone: a new run may start).
    pid_files = [str(tmp_path / "a.pid"), str(tmp_path / "b.pid")]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path / "run"), *pid_files], cwd=root)
    deadline = time.monotonic() + 120
    while not all(os.path.exists(f) and open(f).read() for f in pid_files):
        assert time.monotonic() < deadline and run.poll() is None, "the workers did not start"
        time.sleep(0.2)
    workers = [int(open(f).read()) for f in pid_files]
    run.kill()
    run.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its run"
        time.sleep(0.2)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead
        return f.read().split(")")[-1].split()[0] != "Z"
