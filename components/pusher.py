"""Pusher: copies blessed exported students to the serving directory (TFX's Pusher)."""

import json
import os
import shutil

from components.artifacts import PUSH_FILE
from components.base import REQUIRED, Component, ComponentSpec, remove_stale_temporaries, write_json


def served_versions(directory):
    """Integer versions already in `<serving_dir>/<student>/`, ascending."""
    if not os.path.isdir(directory):
        return []
    return sorted(int(name) for name in os.listdir(directory) if name.isdigit())


class Pusher(Component):
    """Pushes each exported student whose dev score clears its bar ("blessing").

    A student is blessed when its dev score (mean over seeds) is at least
    `min_score` and, depending on `baseline`:
    - `"served"` (default): not below the version currently served for
      that student (the first push only needs `min_score`);
    - a model name from the evaluation (e.g. `"lstm"`, `"svm"`,
      `"teacher"`): at least that model's dev score;
    - `None`: no comparison.

    A blessed student is copied to `<serving_dir>/<student>/<version>/`
    (next integer version, written under a temporary name and renamed); the
    decision, scores and reason for every student go to this component's
    metadata and `push.json`, and a `push.json` goes into each pushed
    version too. A push is not repeated: when the newest served version came
    from the same export (a run killed after pushing, before its artifact
    was stored, or `--force`), it is reported again instead of copied as a
    new version.

    Inputs:
        exports: an Exporter artifact (one folder per student).
        evaluation: the Evaluator artifact of the same run.

    Parameters:
        serving_dir: root of served models (`<output-dir>/<dataset>/serving`).
        baseline: see above.
        min_score: absolute dev floor, in percent.
        margin: points the student must exceed the baseline by.
    """

    SPEC = ComponentSpec(
        inputs=("exports", "evaluation"),
        parameters=dict(serving_dir=REQUIRED, baseline="served", min_score=0.0, margin=0.0),
        description="blessed students copied to serving",
    )

    def execute(self, inputs, output_dir, work_dir):
        p = self.parameters
        models = inputs["evaluation"].metadata["results"]["models"]
        metric = inputs["evaluation"].metadata["results"]["metric"]
        exports = inputs["exports"]
        decisions = {}
        for name in sorted(exports.metadata["results"]["saved_models"]):
            score = models[name].get("dev_mean", models[name]["dev"])
            target = os.path.join(p["serving_dir"], name)
            remove_stale_temporaries(target, r"\.tmp-\d+-(\d+)")  # copies cut short by a kill
            versions = served_versions(target)
            pushed = versions[-1] if versions and _is_push_of(target, versions[-1], exports) else None
            if pushed is not None:  # judged as if that push had not happened yet
                versions = versions[:-1]
            blessed, reason = self._bless(name, score, models, target, versions)
            decision = {"blessed": blessed, "dev": score, "metric": metric, "reason": reason}
            if blessed:
                version = pushed or (versions or [0])[-1] + 1
                decision.update(version=version, path=os.path.join(target, str(version)))
                if pushed is None:
                    record = {**decision, "student": name, "source": exports.uri,
                              "export_fingerprint": exports.fingerprint}
                    self._push(exports.path(name), target, version, record)
            self.log(f"{name}: {'pushed as version ' + str(decision['version']) if blessed else 'not pushed'}"
                  f" ({reason})")
            decisions[name] = decision
        write_json(os.path.join(output_dir, PUSH_FILE), decisions)
        return decisions

    def _bless(self, name, score, models, target, versions):
        p = self.parameters
        if score < p["min_score"]:
            return False, f"dev {score:.2f} < min_score {p['min_score']:.2f}"
        baseline = p["baseline"]
        if baseline is None:
            return True, f"dev {score:.2f} >= min_score {p['min_score']:.2f}"
        if baseline == "served":
            if not versions:
                return True, f"first version; dev {score:.2f} >= min_score {p['min_score']:.2f}"
            with open(os.path.join(target, str(versions[-1]), PUSH_FILE)) as f:
                served = json.load(f)["dev"]
            bar, what = served, f"served version {versions[-1]}"
        else:
            if baseline not in models:
                raise ValueError(f"baseline {baseline!r} is not in the evaluation ({', '.join(models)})")
            bar, what = models[baseline].get("dev_mean", models[baseline]["dev"]), baseline
        if score >= bar + p["margin"]:
            return True, f"dev {score:.2f} >= {what} {bar:.2f} + margin {p['margin']:.2f}"
        return False, f"dev {score:.2f} < {what} {bar:.2f} + margin {p['margin']:.2f}"

    @staticmethod
    def _push(source, target, version, record):
        os.makedirs(target, exist_ok=True)
        tmp = os.path.join(target, f".tmp-{version}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        write_json(os.path.join(tmp, PUSH_FILE), record)
        os.rename(tmp, os.path.join(target, str(version)))


def _is_push_of(target, version, exports):
    """Whether served `version` was copied from the Exporter artifact `exports`."""
    try:
        with open(os.path.join(target, str(version), PUSH_FILE)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return False
    return record.get("source") == exports.uri and record.get("export_fingerprint") == exports.fingerprint
