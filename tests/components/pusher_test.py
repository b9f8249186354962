import json
import os

import pytest

from components.artifacts import PUSH_FILE
from components.pusher import Pusher
from tests.helpers import fake_artifact


def run_pusher(tmp_path, run, scores, **params):
    exports = fake_artifact(str(tmp_path / run / "Exporter"), {"saved_models": {n: f"{n}/saved_model" for n in scores}})
    for name in scores:
        os.makedirs(exports.path(name, "saved_model"), exist_ok=True)
        open(exports.path(name, "saved_model", "saved_model.pb"), "w").write(run)
    models = {n: {"dev": v, "test": v} for n, v in scores.items()} | {"svm": {"dev": 85.0, "test": 84.0}}
    evaluation = fake_artifact(str(tmp_path / run / "Evaluator"), {"metric": "micro_f1", "models": models})
    pusher = Pusher(serving_dir=str(tmp_path / "serving"), **params)
    return pusher.run({"exports": exports, "evaluation": evaluation}, str(tmp_path / run), log=lambda *_: None)


def test_first_push_then_only_improvements(tmp_path):
    first = run_pusher(tmp_path, "run1", {"kd_lstm": 80.0, "kd_lr": 70.0}, min_score=75.0)
    decisions = first.metadata["results"]
    assert decisions["kd_lstm"]["blessed"] and decisions["kd_lstm"]["version"] == 1
    assert not decisions["kd_lr"]["blessed"] and "min_score" in decisions["kd_lr"]["reason"]
    served = tmp_path / "serving" / "kd_lstm" / "1"
    assert (served / "saved_model" / "saved_model.pb").read_text() == "run1"
    assert json.loads((served / PUSH_FILE).read_text())["dev"] == 80.0
    assert not (tmp_path / "serving" / "kd_lr").exists()
    # A worse model is not pushed over the served one; a better one becomes version 2.
    worse = run_pusher(tmp_path, "run2", {"kd_lstm": 79.0}).metadata["results"]["kd_lstm"]
    assert not worse["blessed"] and "served version 1" in worse["reason"]
    better = run_pusher(tmp_path, "run3", {"kd_lstm": 81.5}).metadata["results"]["kd_lstm"]
    assert better["blessed"] and better["version"] == 2
    assert (tmp_path / "serving" / "kd_lstm" / "2" / "saved_model" / "saved_model.pb").read_text() == "run3"
    assert sorted(os.listdir(tmp_path / "serving" / "kd_lstm")) == ["1", "2"]  # no temporary leftovers


def test_baseline_model_and_margin(tmp_path):
    result = run_pusher(tmp_path, "run", {"kd_lstm": 86.0, "kd_kimcnn": 85.5}, baseline="svm", margin=1.0)
    decisions = result.metadata["results"]
    assert decisions["kd_lstm"]["blessed"] and not decisions["kd_kimcnn"]["blessed"]
    with pytest.raises(ValueError, match="baseline 'bert'"):
        run_pusher(tmp_path, "other", {"kd_lstm": 86.0}, baseline="bert")


def test_a_push_cut_short_by_a_kill_is_not_repeated(tmp_path, monkeypatch):
    # Killed after copying version 1 but before its own artifact was stored: started again, the Pusher
    # reports that version 1 with the same decision instead of pushing the same export again as version 2.
    import components.base

    def killed(src, dst):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(components.base, "_replace_dir", killed)
        with pytest.raises(KeyboardInterrupt):
            run_pusher(tmp_path, "run1", {"kd_lstm": 80.0})
    serving = tmp_path / "serving" / "kd_lstm"
    assert sorted(os.listdir(serving)) == ["1"]
    os.makedirs(serving / ".tmp-2-999999999")  # a copy cut short by a kill of a process that is gone
    again = run_pusher(tmp_path, "run1", {"kd_lstm": 80.0}).metadata["results"]["kd_lstm"]
    assert again["blessed"] and again["version"] == 1 and again["reason"].startswith("first version")
    assert sorted(os.listdir(serving)) == ["1"]
    # Another run's export is still pushed as a new version.
    assert run_pusher(tmp_path, "run2", {"kd_lstm": 80.0}).metadata["results"]["kd_lstm"]["version"] == 2
