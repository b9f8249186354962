import json
import os

import pytest

from components.base import REQUIRED, Artifact, Component, ComponentSpec


class Counter(Component):
    SPEC = ComponentSpec(inputs=(), parameters=dict(value=REQUIRED, fail=False))
    calls = 0

    def execute(self, inputs, output_dir, work_dir):
        type(self).calls += 1
        with open(os.path.join(output_dir, "value.txt"), "w") as f:
            f.write(str(self.parameters["value"]))
        if self.parameters["fail"]:
            raise RuntimeError("boom")
        return {"value": self.parameters["value"]}


class Doubler(Component):
    SPEC = ComponentSpec(inputs=("source",), parameters={})

    def execute(self, inputs, output_dir, work_dir):
        with open(inputs["source"].path("value.txt")) as f:
            value = int(f.read())
        with open(os.path.join(output_dir, "value.txt"), "w") as f:
            f.write(str(2 * value))


def test_metadata_and_reuse(tmp_path):
    Counter.calls = 0
    a = Counter(value=3).run({}, str(tmp_path), log=lambda *_: None)
    meta = json.load(open(a.path("metadata.json")))
    assert meta["component"] == "Counter" and meta["parameters"] == {"value": 3, "fail": False}
    assert meta["results"] == {"value": 3} and "tensorflow" in meta["versions"] and meta["seconds"] >= 0
    assert meta["outputs"] == ["value.txt"]
    b = Doubler().run({"source": a}, str(tmp_path), log=lambda *_: None)
    assert open(b.path("value.txt")).read() == "6"
    assert json.load(open(b.path("metadata.json")))["inputs"] == {"source": a.uri}
    # Same parameters: reused. New parameters: recomputed, and downstream too.
    Counter(value=3).run({}, str(tmp_path), log=lambda *_: None)
    assert Counter.calls == 1
    a2 = Counter(value=4).run({}, str(tmp_path), log=lambda *_: None)
    assert Counter.calls == 2
    b2 = Doubler().run({"source": a2}, str(tmp_path), log=lambda *_: None)
    assert b2.fingerprint != json.load(open(b.path("metadata.json")))["fingerprint"] or open(b2.path("value.txt")).read() == "8"
    assert open(b2.path("value.txt")).read() == "8"
    Counter(value=4).run({}, str(tmp_path), force=True, log=lambda *_: None)
    assert Counter.calls == 3


class Chunked(Component):
    SPEC = ComponentSpec(parameters=dict(value=1, chunk=8), execution_parameters=dict(chunk=4))
    calls = 0

    def execute(self, inputs, output_dir, work_dir):
        type(self).calls += 1
        return {"value": self.parameters["value"]}


def test_execution_parameters_stay_out_of_the_fingerprint(tmp_path):
    Chunked.calls = 0
    first = Chunked(chunk=8).run({}, str(tmp_path), log=lambda *_: None)
    again = Chunked(chunk=512).run({}, str(tmp_path), log=lambda *_: None)  # how it runs, not what it writes: reused
    assert Chunked.calls == 1 and again.fingerprint == first.fingerprint
    assert again.metadata["parameters"] == {"value": 1, "chunk": 8}  # the metadata tells how it did run
    assert Chunked(chunk=8).fingerprint_parameters() == {"value": 1, "chunk": 4}  # the value it always records
    Chunked(value=2, chunk=512).run({}, str(tmp_path), log=lambda *_: None)
    assert Chunked.calls == 2


def test_failure_leaves_previous_artifact_and_no_temp(tmp_path):
    good = Counter(name="C", value=1).run({}, str(tmp_path), log=lambda *_: None)
    with pytest.raises(RuntimeError, match="boom"):
        Counter(name="C", value=2, fail=True).run({}, str(tmp_path), log=lambda *_: None)
    assert Artifact(good.uri).metadata["parameters"]["value"] == 1
    assert open(good.path("value.txt")).read() == "1"
    assert sorted(p for p in os.listdir(tmp_path) if ".tmp-" in p) == []


def test_output_of_a_killed_run_is_removed_and_not_trusted(tmp_path):
    # A SIGKILL leaves the output folder of the killed process (and maybe a replaced artifact) behind:
    # the next run of that component removes them; those of live processes and other components stay.
    gone, alive = 999999999, os.getppid()
    for name in (f".C.tmp-{gone}", f"C.old-{gone}", f".C.tmp-{alive}", f".D.tmp-{gone}"):
        os.makedirs(tmp_path / name)
    open(tmp_path / f".C.tmp-{gone}" / "value.txt", "w").write("half")
    artifact = Counter(name="C", value=5).run({}, str(tmp_path), log=lambda *_: None)
    assert open(artifact.path("value.txt")).read() == "5"
    assert sorted(p for p in os.listdir(tmp_path) if p != "C") == [f".C.tmp-{alive}", f".D.tmp-{gone}"]


def test_spec_validation():
    with pytest.raises(TypeError, match="unknown parameters"):
        Counter(value=1, colour="red")
    with pytest.raises(TypeError, match="missing parameters"):
        Counter()
    with pytest.raises(TypeError, match="missing inputs"):
        Doubler().run({}, "/tmp/unused")


class Resumable(Component):
    """Counts what it finds in its work dir, then fails (an interrupted run) unless told to finish."""

    SPEC = ComponentSpec(inputs=(), parameters=dict(value=REQUIRED))
    finish = False

    def execute(self, inputs, output_dir, work_dir):
        progress = os.path.join(work_dir, "progress.txt")
        done = int(open(progress).read()) if os.path.exists(progress) else 0
        with open(progress, "w") as f:
            f.write(str(done + 1))
        if not type(self).finish:
            raise KeyboardInterrupt
        return {"steps": done + 1}


def test_interrupted_work_of_other_parameters_is_kept_and_resumed(tmp_path):
    lines = []
    Resumable.finish = False
    run = lambda value, force=False: Resumable(name="R", value=value).run(  # noqa: E731
        {}, str(tmp_path), force=force, log=lines.append)
    for _ in range(2):
        with pytest.raises(KeyboardInterrupt):
            run(1)  # two steps of value=1 done
    with pytest.raises(KeyboardInterrupt):
        run(2)  # another option tried: starts afresh, value=1's work is parked
    assert any("kept in" in line and "R.work.previous" in line for line in lines)
    with pytest.raises(KeyboardInterrupt):
        run(1)  # back to value=1: resumes at its third step
    assert open(tmp_path / ".R.work" / "progress.txt").read() == "3"
    assert open(tmp_path / ".R.work.previous" / "progress.txt").read() == "1"  # value=2's step, parked in turn
    Resumable.finish = True
    assert run(1).metadata["results"] == {"steps": 4}
    # --force starts from nothing, parked work included.
    run(2, force=True)
    assert Artifact(str(tmp_path / "R")).metadata["results"] == {"steps": 1}
    assert not os.path.exists(tmp_path / ".R.work.previous")
