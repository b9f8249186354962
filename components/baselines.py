"""Baselines: scikit-learn LR and linear SVM on tf-idf (not distilled)."""

import os

from components.artifacts import BASELINE_SCORES_FILE, load_schema, read_split
from components.base import Component, ComponentSpec, write_json
from kdkeras import baselines, metrics


class Baselines(Component):
    """Fits each baseline on train, selects C on dev, scores dev and test.

    Outputs `scores.json`: `{name: {"dev", "test", "C", "params"}}` with
    names `sklearn_lr` and `svm` (the Keras LR student trained without KD is
    `lr`). Models are not stored (they are refit in seconds).

    Parameters:
        kinds: baselines to run ("lr", "svm").
        seed: solver seed.
    """

    SPEC = ComponentSpec(
        inputs=("examples",),
        parameters=dict(kinds=["lr", "svm"], seed=0),
        description="scikit-learn tf-idf baselines",
    )

    def execute(self, inputs, output_dir, work_dir):
        schema = load_schema(inputs["examples"])
        multi_label = schema["multi_label"]
        splits = {s: read_split(inputs["examples"], s)[0] for s in ("train", "dev", "test")}
        results = {}
        for kind in self.parameters["kinds"]:
            model, C, dev_score, columns = baselines.select_and_fit(
                kind, splits["train"], splits["dev"], multi_label, seed=self.parameters["seed"], log=self.log
            )
            logits = {s: baselines.logits(model, columns, splits[s].texts, schema["num_classes"], multi_label)
                      for s in ("dev", "test")}
            clf = model[-1]
            coef_count = sum(e.coef_.size + e.intercept_.size for e in getattr(clf, "estimators_", [clf]))
            name = "sklearn_lr" if kind == "lr" else kind
            results[name] = {
                "dev": dev_score,
                "test": metrics.score(splits["test"].labels, logits["test"], multi_label),
                **{f"{s}_served": metrics.served_score(splits[s].labels, logits[s], multi_label) for s in logits},
                "C": C,
                "params": int(coef_count),
            }
            self.log(f"{name}: C={C} dev {dev_score:.2f} test {results[name]['test']:.2f}")
        write_json(os.path.join(output_dir, BASELINE_SCORES_FILE), results)
        return results
