"""One writer per run directory: a run, a sweep, a transfer-set job or a benchmark holds `run.lock`.

The lock is an exclusive `fcntl.flock` on `<run_dir>/run.lock`, which also
records who holds it (pid, command, start time). The kernel drops the lock
when its process ends, however it ends, so a lock left by a killed process
is stale by construction and the next writer takes it over. A second writer
is refused at once with a `RunLockedError` naming the holder. Reading a
finished run (predict, results) takes no lock.

Example:
>>> with RunLock("saved_models/reuters/quick", "python -m pipelines.sweep ..."):
...     ...  # write into the run directory
"""

import fcntl
import json
import os
import sys
import time

LOCK_FILE = "run.lock"


class RunLockedError(RuntimeError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """An exclusive, non-blocking lock on a run directory (created if missing).

    Args:
        run_dir: the directory the holder writes into.
        command: what holds it, for the message a refused writer gets
            (default: this process's command line).

    Attributes:
        taken_over: the record of a previous holder that had died without
            releasing (its lock file was left behind), or None.
    """

    def __init__(self, run_dir, command=None):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.command = command or " ".join(["python"] + sys.argv)
        self.taken_over = None
        self._fd = None

    def acquire(self):
        """Takes the lock or raises `RunLockedError` naming the holder; returns self."""
        os.makedirs(self.run_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise RunLockedError(
                    f"{self.run_dir}: in use by pid {holder.get('pid', '?')} ({holder.get('command', '?')}), "
                    f"started {holder.get('started', '?')}; wait for it to finish, or stop it") from None
            try:  # the holder may have removed the file between our open and our lock: lock the current one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read(fd)
        if previous.get("pid") and previous.get("pid") != os.getpid():
            self.taken_over = previous  # its process ended without releasing: stale
        record = {"pid": os.getpid(), "command": self.command,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "host": os.uname().nodename}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd
        return self

    def release(self):
        """Drops the lock and removes the lock file (safe to call twice)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _read(fd):
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}
