"""Independent components run side by side, each in a worker process with its share of the cores.

A small student keeps one core busy but gains little or nothing from a
second one: its steps are many small ops. On 2 cores, a Reuters epoch of
the quick reg-LSTM takes 20.5 s on two TensorFlow threads and 19.8 s on
one, and two one-thread trainings side by side still take 20.5 s each
(`docs/results/train_speed_reuters_threads*.json`; KimCNN is the exception,
4.97 s on two threads against 9.75 s on one). Training two students at
once, one thread each, therefore does up to twice the work per second of
training them one after the other on two threads. `run_components` does that for components that do not depend
on each other (the students of one pipeline stage, the baselines).

Every component still writes its artifact atomically and resumes from its
own work directory, so a run that is interrupted and started again (with
any number of jobs) continues where each component stopped. The lines a
worker prints (the component's log, Keras' epoch lines) reach the caller's
`log`, each prefixed by its component's name.

Example:

>>> from components.parallel import run_components
>>> artifacts = run_components(
...     {"lstm": (StudentTrainer(name="lstm", student="lstm"), {"examples": examples}),
...      "kimcnn": (StudentTrainer(name="kimcnn", student="kimcnn"), {"examples": examples})},
...     run_dir, jobs=2)  # doctest: +SKIP
"""

import io
import multiprocessing
import os
import signal
import sys
import threading
from concurrent import futures

from components.base import Artifact, print_line

_QUEUE = None  # a worker's channel for its lines (set by `_start_worker`)


def usable_cores():
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_jobs(*, cores=None, limit=4):
    """Worker processes for `run_components`: one per core, at most `limit` (each holds a model and its data).

    Args:
        cores: cores to share (default: `usable_cores()`).
        limit: the most workers.
    """
    return max(1, min(limit, usable_cores() if cores is None else cores))


def run_components(tasks, pipeline_root, *, jobs=1, force=False, log=print_line):
    """Runs independent components, up to `jobs` at once, and returns their artifacts.

    Finished artifacts are reused without starting a worker. With `jobs=1`,
    or a single component left to compute, they run one after the other in
    this process, exactly as `Component.run`. Otherwise each runs in a
    worker process (started fresh, `spawn`) whose TensorFlow uses
    `cores // jobs` threads; components start in the order given, so put the
    longest first.

    Args:
        tasks: dict of key → `(component, inputs)`; the components must not
            depend on each other's outputs and must have distinct names.
        pipeline_root: the run directory.
        jobs: the most components computed at once.
        force: recompute even when a matching artifact exists.
        log: receives every line, as in `Component.run`.

    Returns:
        dict of key → `Artifact`, in the order of `tasks`.

    Raises:
        The first error of a component; the components still running are
        left to finish (their artifacts are complete and reused next time),
        those not started are not started.
    """
    names = [component.name for component, _ in tasks.values()]
    if len(set(names)) != len(names):
        raise ValueError(f"components of one stage need distinct names: {names}")
    todo = {key: task for key, task in tasks.items() if force or task[0].finished(task[1], pipeline_root) is None}
    jobs = min(max(1, int(jobs)), len(todo))
    # Finished components (`run` reuses them, saying so), and all of them with a single job, in this process.
    done = {key: component.run(inputs, pipeline_root, force, log)
            for key, (component, inputs) in tasks.items() if jobs <= 1 or key not in todo}
    if jobs <= 1:
        return done
    threads = max(1, usable_cores() // jobs)
    log(f"[run] {len(todo)} components, {jobs} at a time, {threads} thread{'s' * (threads > 1)} each")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    printer = threading.Thread(target=_print_lines, args=(queue, log), daemon=True)
    printer.start()
    try:
        with futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                                         initargs=(queue, threads, os.getpid())) as pool:
            running = {pool.submit(_run_in_worker, component, inputs, pipeline_root, force): key
                       for key, (component, inputs) in todo.items()}
            try:
                for future in futures.as_completed(running):
                    done[running[future]] = Artifact(future.result())
            except BaseException:
                for future in running:
                    future.cancel()
                raise
    finally:
        queue.put(None)
        printer.join()
        queue.close()
    return {key: done[key] for key in tasks}


def _print_lines(queue, log):
    """Passes the workers' lines to `log` (one thread in the caller's process) until None arrives."""
    while True:
        line = queue.get()
        if line is None:
            return
        log(line)


def _start_worker(queue, threads, parent):
    """Worker set-up: the channel for lines, and TensorFlow limited to `threads` threads (before it starts)."""
    global _QUEUE
    _QUEUE = queue
    _end_with_parent(parent)
    from kdkeras.training import limit_threads

    limit_threads(threads)


def _end_with_parent(parent):
    """On Linux, asks the kernel to stop this worker if the process that started it dies (even by SIGKILL), so
    that no orphan keeps writing a run directory whose lock is gone."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # elsewhere: workers end when they find the pool gone
    if os.getppid() != parent:  # it died before the request
        os._exit(1)


def _run_in_worker(component, inputs, pipeline_root, force):
    """Runs one component in a worker; its printed lines go to the caller, prefixed by its name."""
    stdout, lines = sys.stdout, _Lines(_QUEUE.put, f"[{component.name}] ")
    sys.stdout = lines
    try:
        return component.run(inputs, pipeline_root, force, _QUEUE.put).uri
    finally:
        lines.write("\n")  # a last line without its end
        sys.stdout = stdout


class _Lines(io.TextIOBase):
    """A text stream that hands each complete line (ended by `\\n` or `\\r`) to `emit`, after `prefix`."""

    def __init__(self, emit, prefix):
        super().__init__()
        self._emit, self._prefix, self._pending = emit, prefix, ""

    def writable(self):
        return True

    def write(self, text):
        self._pending += text
        *lines, self._pending = self._pending.replace("\r", "\n").split("\n")
        for line in lines:
            if line.strip():
                self._emit(self._prefix + line.rstrip())
        return len(text)

    def flush(self):
        pass  # only complete lines are passed on
