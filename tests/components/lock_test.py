"""One writer per run directory, tested with real processes."""

import os
import subprocess
import sys
import time

import pytest

from components.lock import LOCK_FILE, RunLock, RunLockedError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOLD = """
import sys, time
from components.lock import RunLock
lock = RunLock(sys.argv[1], "holder --for-test").acquire()
print("held", flush=True)
time.sleep(60)
"""


def _holder(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_naming_the_holder_and_a_killed_holder_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    proc = _holder(run_dir)
    try:
        with pytest.raises(RunLockedError, match=rf"{run_dir}: in use by pid {proc.pid} \(holder --for-test\), started "):
            RunLock(str(run_dir)).acquire()
    finally:
        proc.kill()
        proc.wait()
    assert (run_dir / LOCK_FILE).exists()  # left behind by the killed holder: stale
    with RunLock(str(run_dir), "second") as lock:
        assert lock.taken_over["pid"] == proc.pid
    assert not (run_dir / LOCK_FILE).exists()
    with RunLock(str(run_dir)) as lock:  # released cleanly: nothing to take over
        assert lock.taken_over is None


def test_the_run_command_refuses_a_locked_run_directory(tmp_path):
    from tests.helpers import make_docs, write_hedwig

    data = write_hedwig(str(tmp_path / "toy"), {"train": make_docs(20), "test": make_docs(5, 2)})
    run_dir = tmp_path / "runs" / "custom" / "smoke"
    started = time.monotonic()
    _assert_refused(run_dir, ["pipelines.run", "--dataset", "custom", "--data-dir", data, "--profile", "smoke",
                              "--output-dir", str(tmp_path / "runs")])
    assert time.monotonic() - started < 120


def _assert_refused(run_dir, command):
    """Runs `python -m COMMAND` while another process holds `run_dir`: one error line, exit 2, nothing written."""
    proc = _holder(run_dir)
    try:
        result = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
    finally:
        proc.kill()
        proc.wait()
    lines = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert result.returncode == 2 and len(lines) == 1 and f"in use by pid {proc.pid}" in lines[0], result.stderr[-2000:]
    assert os.listdir(run_dir) == [LOCK_FILE]


def test_the_transfer_set_command_refuses_a_locked_run_directory_before_writing(tmp_path):
    from components.artifacts import PREPROCESSOR_DIR, TEACHER_MODEL_FILE as MODEL_FILE
    from tests.helpers import make_docs, write_hedwig

    data = write_hedwig(str(tmp_path / "toy"), {"train": make_docs(20), "test": make_docs(5, 2)})
    teacher = tmp_path / "TeacherTrainer"  # passes the up-front check; never loaded, the lock comes first
    (teacher / PREPROCESSOR_DIR).mkdir(parents=True)
    (teacher / MODEL_FILE).write_text("")
    (teacher / PREPROCESSOR_DIR / "preprocessor.json").write_text("{}")
    (teacher / "metadata.json").write_text('{"fingerprint": "x", "parameters": {}, "results": {}}')
    run_dir = tmp_path / "out"
    _assert_refused(run_dir, ["pipelines.transfer_set", "--dataset", "custom", "--data-dir", data,
                              "--teacher", str(teacher), "--output", str(run_dir)])  # no ExampleGen written
