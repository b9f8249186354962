"""TFX-style components: a spec (inputs, outputs, parameters) plus an executor.

Each component run writes one artifact directory
`<pipeline_root>/<Component>/` holding its outputs and a `metadata.json`
(component, parameters, input artifacts, library versions, timings,
fingerprint). Directories are built under a temporary name and renamed into
place when complete, so a crash never leaves a half-written artifact.
A finished artifact whose fingerprint matches is reused instead of being
recomputed; long executors also get a stable `work_dir` for checkpoints, so
an interrupted run resumes where it stopped.

Component names become directory names, so they must be plain names (no
`/` or `..`); `kdkeras.paths.safe_join` keeps other names from configs or
the command line inside the pipeline root.
"""

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
from importlib import metadata as importlib_metadata

from kdkeras.paths import check_name

METADATA_FILE = "metadata.json"
_VERSIONED = ("kdkeras", "tensorflow", "keras", "keras-hub", "apache-beam", "numpy", "scikit-learn")


def print_line(line):
    """The default progress printer: one line to standard output, flushed (logs stay in order when piped)."""
    print(line, flush=True)


def library_versions():
    versions = {"python": sys.version.split()[0]}
    for name in _VERSIONED:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    """What a component consumes and produces.

    Args:
        inputs: names of the input artifacts (keys of `Component.run` inputs).
        optional_inputs: names of inputs that may be left out.
        parameters: parameter name → default value (`REQUIRED` if none).
        description: one line shown in metadata.
        added_parameters: parameters added after artifacts were first made:
            left out of the fingerprint while at their default, so those
            artifacts stay valid.
        execution_parameters: parameters that change how the work runs, not
            what it writes (a batch size when every record is computed in a
            batch of fixed shape whatever its neighbours), mapped to the one
            value the fingerprint records for them whatever they are set to
            (the value artifacts made before were fingerprinted with, so
            they stay valid): changing them reuses finished artifacts.
    """

    inputs: tuple = ()
    optional_inputs: tuple = ()
    parameters: dict = dataclasses.field(default_factory=dict)
    description: str = ""
    added_parameters: tuple = ()
    execution_parameters: dict = dataclasses.field(default_factory=dict)


REQUIRED = object()


class Artifact:
    """A finished artifact directory and its metadata."""

    def __init__(self, uri):
        self.uri = uri
        path = os.path.join(uri, METADATA_FILE)
        try:
            with open(path) as f:
                self.metadata = json.load(f)
        except FileNotFoundError:
            what = "no such folder" if not os.path.isdir(uri) else f"no {METADATA_FILE}"
            raise FileNotFoundError(f"{uri}: not a finished pipeline artifact ({what})") from None
        except ValueError as e:
            raise ValueError(f"{path}: unreadable artifact metadata ({e})") from None

    @property
    def fingerprint(self):
        return self.metadata["fingerprint"]

    def path(self, *parts):
        return os.path.join(self.uri, *parts)

    def __repr__(self):
        return f"Artifact({self.uri!r})"


class Component:
    """Base class: subclasses set `SPEC` and implement `execute`.

    Args:
        name: artifact directory name; defaults to the class name (give a
            distinct name to run the same component twice in one pipeline).
            A plain name: no `/`, not `..`.
        **parameters: values for the parameters declared in `SPEC`.
    """

    SPEC = ComponentSpec()

    def __init__(self, name=None, **parameters):
        self._log = print_line
        self.name = check_name(name or type(self).__name__, "component name")
        unknown = set(parameters) - set(self.SPEC.parameters)
        if unknown:
            raise TypeError(f"{self.name}: unknown parameters {sorted(unknown)}")
        self.parameters = {k: parameters.get(k, v) for k, v in self.SPEC.parameters.items()}
        missing = [k for k, v in self.parameters.items() if v is REQUIRED]
        if missing:
            raise TypeError(f"{self.name}: missing parameters {missing}")

    def execute(self, inputs, output_dir, work_dir):
        """Does the work: reads `inputs` (name → `Artifact`), writes into `output_dir`.

        Progress goes through `self.log`, never `print`, so callers can
        capture or silence it (`run(log=...)`).

        Returns a JSON-serialisable dict of results, stored in metadata.
        """
        raise NotImplementedError

    def log(self, message):
        """A progress line `[<name>] message` through the `log` callable given to `run`."""
        self._log(f"[{self.name}] {message}")

    def fingerprint_parameters(self):
        """The parameters that enter the fingerprint: all but `SPEC.added_parameters` at their default, with
        `SPEC.execution_parameters` at their recorded value."""
        defaults, pinned = self.SPEC.parameters, self.SPEC.execution_parameters
        return {k: pinned.get(k, v) for k, v in self.parameters.items()
                if not (k in self.SPEC.added_parameters and v == defaults[k])}

    def fingerprint(self, inputs):
        payload = {
            "component": type(self).__name__,
            "parameters": self.fingerprint_parameters(),
            "inputs": {k: _input_fingerprint(v) for k, v in sorted(inputs.items())},
            "versions": library_versions(),
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def finished(self, inputs, pipeline_root):
        """The finished artifact of these `inputs` and parameters in `pipeline_root`, or None (to compute)."""
        return _finished(os.path.join(pipeline_root, self.name), self.fingerprint(inputs))

    def run(self, inputs, pipeline_root, force=False, log=print_line):
        """Runs the component (or reuses a matching finished artifact).

        Args:
            inputs: dict of input name → `Artifact` (or dict of Artifacts).
            pipeline_root: the run directory holding all artifacts.
            force: recompute even when a matching artifact exists.
            log: progress printer: receives every line of the component and
                its executor (`print_line` by default).

        Returns:
            The output `Artifact`.
        """
        self._log = log
        missing = set(self.SPEC.inputs) - set(inputs)
        if missing:
            raise TypeError(f"{self.name}: missing inputs {sorted(missing)}")
        unknown = set(inputs) - set(self.SPEC.inputs) - set(self.SPEC.optional_inputs)
        if unknown:
            raise TypeError(f"{self.name}: unknown inputs {sorted(unknown)}")
        fingerprint = self.fingerprint(inputs)
        final = os.path.join(pipeline_root, self.name)
        artifact = None if force else _finished(final, fingerprint)
        if artifact is not None:
            log(f"[{self.name}] up to date, reusing {final}")
            return artifact
        work_dir = os.path.join(pipeline_root, f".{self.name}.work")
        _prepare_work_dir(work_dir, fingerprint, force, lambda message: log(f"[{self.name}] {message}"))
        # Output folders of killed runs of this component (never trusted: they were not moved into place).
        name = re.escape(self.name)
        remove_stale_temporaries(pipeline_root, rf"\.{name}\.tmp-(\d+)|{name}\.old-(\d+)")
        tmp = os.path.join(pipeline_root, f".{self.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        log(f"[{self.name}] running")
        started = time.time()
        try:
            _fresh_session()
            results = self.execute(inputs, tmp, work_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            _drop_unused_work_dir(work_dir)
            raise
        seconds = time.time() - started
        meta = {
            "component": type(self).__name__,
            "name": self.name,
            "description": self.SPEC.description,
            "parameters": self.parameters,
            "inputs": {k: _input_uris(v) for k, v in sorted(inputs.items())},
            "outputs": sorted(
                os.path.relpath(os.path.join(d, f), tmp) for d, _, fs in os.walk(tmp) for f in fs
            ),
            "results": results or {},
            "versions": library_versions(),
            "fingerprint": fingerprint,
            "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(),
            "seconds": round(seconds, 2),
        }
        write_json(os.path.join(tmp, METADATA_FILE), meta)
        _replace_dir(tmp, final)
        shutil.rmtree(work_dir, ignore_errors=True)
        log(f"[{self.name}] done in {seconds:.0f} s → {final}")
        return Artifact(final)


@contextlib.contextmanager
def removed_on_failure(path):
    """Context manager: if the block raises, removes what it newly created of `path`.

    That is the outermost of `path` and its parents that did not exist on
    entry (nothing when `path` already existed), so a failed first run leaves
    no empty run or output folders behind.
    """
    created, current = None, os.path.abspath(path)
    while not os.path.exists(current):
        created, parent = current, os.path.dirname(current)
        if parent == current:
            break
        current = parent
    try:
        yield
    except BaseException:
        if created:
            shutil.rmtree(created, ignore_errors=True)
        raise


def write_json(path, obj):
    """Writes JSON atomically (temp file, then rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
    os.replace(tmp, path)


def _finished(final, fingerprint):
    """The artifact in `final` if it is finished and made with `fingerprint`, else None."""
    if not os.path.exists(os.path.join(final, METADATA_FILE)):
        return None
    artifact = Artifact(final)
    return artifact if artifact.fingerprint == fingerprint else None


def _input_fingerprint(value):
    if isinstance(value, dict):
        return {k: _input_fingerprint(v) for k, v in sorted(value.items())}
    return value.fingerprint


def _input_uris(value):
    if isinstance(value, dict):
        return {k: _input_uris(v) for k, v in sorted(value.items())}
    return value.uri


def _prepare_work_dir(work_dir, fingerprint, force, log=print):
    """Makes `work_dir` hold the resumable work of `fingerprint`.

    Work of the same fingerprint is resumed. Interrupted work of another
    fingerprint (inputs or parameters changed, e.g. a run started with another
    option) is not thrown away: it is kept, one generation, in
    `WORK_DIR.previous` and comes back if that fingerprint is run again, so
    trying an option on a half-trained run does not cost the hours already spent.
    `force` starts from nothing.
    """
    previous = work_dir + ".previous"
    if force:
        shutil.rmtree(work_dir, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)
    current = _stamp(work_dir)
    if current == fingerprint:
        return  # resume an interrupted run of the same work
    if _stamp(previous) == fingerprint:
        parked = f"{work_dir}.swap-{os.getpid()}"
        os.rename(previous, parked)
        if current is not None and _has_work(work_dir):
            os.rename(work_dir, previous)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
        os.rename(parked, work_dir)
        log("resuming the interrupted work of these inputs and parameters")
        return
    if current is not None and _has_work(work_dir):
        shutil.rmtree(previous, ignore_errors=True)
        os.rename(work_dir, previous)
        log(f"inputs or parameters changed: starting afresh; the interrupted work of the old ones is kept "
            f"in {previous}")
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    with open(os.path.join(work_dir, "FINGERPRINT"), "w") as f:
        f.write(fingerprint)


def _stamp(work_dir):
    try:
        with open(os.path.join(work_dir, "FINGERPRINT")) as f:
            return f.read().strip()
    except OSError:
        return None


def _has_work(work_dir):
    try:
        return any(name != "FINGERPRINT" for name in os.listdir(work_dir))
    except OSError:
        return False


def _fresh_session(seed=0):
    """Seeds the global random generators and resets Keras' global state (when loaded).

    So that what a component writes depends on the component alone, not on
    what ran before it in the process (as when an interrupted pipeline is
    started again): layer, optimizer and variable names that Keras makes up
    (`adam_2`, `dense_7`) count what was built before, and unseeded random
    state (e.g. of the seed generators a loaded model's dropout layers get)
    follows the process's generators; both end up in saved weights,
    SavedModels and `.tflite` files. Trainers then seed with their own seed.
    """
    random.seed(seed)
    for name, reseed in (("numpy", lambda m: m.random.seed(seed)), ("tensorflow", lambda m: m.random.set_seed(seed))):
        if name in sys.modules:
            reseed(sys.modules[name])
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)


def remove_stale_temporaries(directory, pattern):
    """Removes the entries of `directory` matching `pattern` whose process is gone.

    `pattern` must match whole names and capture the writing process's id
    (in one of its groups): entries of live processes (a concurrent run, or
    this one) are kept.
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        match = re.fullmatch(pattern, name)
        if not match:
            continue
        pid = int(next(g for g in match.groups() if g is not None))
        if pid != os.getpid() and not _process_alive(pid):
            path = os.path.join(directory, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)


def _process_alive(pid):
    if os.name != "posix":  # os.kill(pid, 0) would terminate it on Windows: keep the entry
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _drop_unused_work_dir(work_dir):
    """Removes a work dir that holds nothing to resume from (only its FINGERPRINT stamp)."""
    try:
        if os.listdir(work_dir) == ["FINGERPRINT"]:
            shutil.rmtree(work_dir, ignore_errors=True)
    except OSError:
        pass


def _replace_dir(src, dst):
    """Moves `src` to `dst`, replacing an old `dst` without a window where neither exists whole."""
    if os.path.exists(dst):
        old = f"{dst}.old-{os.getpid()}"
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)
