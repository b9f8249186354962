"""A quiet console: TensorFlow, absl, TFLite and Beam start-up chatter filtered out.

A CPU run of TensorFlow prints lines that read like failures to a first-time
user (`failed call to cuInit: ... UNKNOWN ERROR (303)`, `oneDNN custom
operations are on`, `All log messages before absl::InitializeLog() ...`,
Beam's `apitools not found`, `tf.function retracing` warnings). Most of them
come from C++ code that logs before absl is initialised, so no Python
logging setting and no `TF_CPP_MIN_LOG_LEVEL` reaches them. `quiet_console`
therefore filters at the file-descriptor level: standard error (fd 2) of this
process, and of every process it starts (Beam workers), goes through a small
filter process that drops the known chatter line by line and passes
everything else through unchanged: tracebacks, warnings we do not know, our
own lines (the Beam workers' progress lines, which Python's default logging
format prints as `INFO:kdkeras.transfer_set:...`, get the `[TransferSet]`
prefix of the components' lines). The filter ignores Ctrl-C and runs until
the last writer is gone, so nothing written before a crash or an interrupt
is lost.

Example:

>>> from kdkeras import logs
>>> logs.quiet_console()          # first thing in a command's main()
>>> import tensorflow as tf       # no start-up chatter on the terminal
"""

import atexit
import os
import subprocess
import sys

VERBOSE_ENV = "KDKERAS_VERBOSE"

# Lines (regular expressions over bytes, searched anywhere in the line) that are dropped.
NOISE = (
    rb"^WARNING: All log messages before absl::InitializeLog\(\) is called",
    rb"^I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\] ",  # C++ INFO lines logged before absl is initialised
    rb"failed call to cuInit",
    rb"Could not find cuda drivers",
    rb"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags",
    rb"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU",
    rb"oneDNN supports DT_\w+ only on platforms with AVX-512",  # DT_BOOL, DT_INT64 on CPUs without AVX-512
    rb"TF-TRT Warning: Could not find TensorRT",
    rb"apitools not found, and bigquery client libraries are not available",
    rb"triggered tf\.function retracing",
    rb"Resource module is not available for current platform",
    rb"No semi_persistent_directory found",
    rb"Discarding unparseable args",
    rb"Logging handler created\.",
    rb"^fully_quantize: \d",  # TFLite converter settings
    rb"Issue encountered when serializing table_initializer",  # SavedModel export of lookup tables
    rb"^Type is unsupported, or the types of the items don't match field type in CollectionDef",
    rb"^'NoneType' object has no attribute 'name'$",
    rb"Compiled the loaded model, but the compiled metrics have yet to be built",  # tf_keras twin, TFLite export
    rb"tf_tfl_flatbuffer_helpers\.cc:\d+\] Ignored (output_format|drop_control_dependency)",
)
# Lines rewritten (prefix pattern → replacement): Beam worker processes log our progress in Python's default
# format (`INFO:kdkeras.transfer_set:transfer set: copies_made 1000`); shown like the components' own lines.
REWRITES = (
    (rb"^INFO:kdkeras\.transfer_set:(?:transfer set: )?", rb"[TransferSet] "),
)

_FILTER = r"""
import ast, os, re, signal, sys
for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # drain until the last writer is gone (SIGHUP: not on Windows)
    if hasattr(signal, name):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
noise = re.compile(b"|".join(b"(?:" + p + b")" for p in ast.literal_eval(sys.argv[1])))
rewrites = [(re.compile(p), r) for p, r in ast.literal_eval(sys.argv[2])]


def rewrite(line):
    for pattern, replacement in rewrites:
        line = pattern.sub(lambda _: replacement, line, count=1)
    return line


pending = b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    lines = (pending + chunk).split(b"\n")
    pending = lines.pop()
    out = [rewrite(line) + b"\n" for line in lines if not noise.search(line)]
    if b"\r" in pending:  # progress bars redraw with \r: show them now
        cut = pending.rindex(b"\r") + 1
        out.append(pending[:cut])
        pending = pending[cut:]
    if out:
        os.write(1, b"".join(out))
if pending and not noise.search(pending):
    os.write(1, rewrite(pending))
"""

_installed = None


def verbose_requested():
    """True when `KDKERAS_VERBOSE` is set to anything but `""`/`0` (the commands' `--verbose` sets it)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def quiet_console(verbose=False):
    """Filters library chatter out of this process's standard error (and its children's).

    Call it first in a command's `main()`, before TensorFlow is imported. A
    second call does nothing. With `verbose=True` (or `KDKERAS_VERBOSE=1` in
    the environment) nothing is filtered; `verbose=True` also sets the
    variable, so that worker processes started later print everything too.

    Args:
        verbose: keep every line.

    Returns:
        True if the filter is (now) in place.
    """
    global _installed
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    if _installed is not None:
        return True
    if verbose_requested():
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return False  # stderr is redirected in-process (e.g. captured by a test runner)
        sys.stderr.flush()
        original = os.dup(2)
        read, write = os.pipe()
        process = subprocess.Popen([sys.executable, "-c", _FILTER, repr(NOISE), repr(REWRITES)], stdin=read,
                                   stdout=original, stderr=original)
    except (OSError, ValueError):
        return False  # no usable fd 2: leave stderr as it is
    os.close(read)
    os.dup2(write, 2)
    os.close(write)
    _installed = (original, process)
    atexit.register(_restore)
    return True


def _restore():
    """Gives fd 2 back and waits for the filter to print what is left (at exit)."""
    global _installed
    if _installed is None:
        return
    original, process = _installed
    _installed = None
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os.dup2(original, 2)  # closes this process's end of the pipe
    os.close(original)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass  # a worker still holds the pipe; the filter prints its lines when it ends
