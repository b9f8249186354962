from components.artifacts import has_split
from components.base import Artifact
from pipelines import sweep
from pipelines.pipeline import builds_transfer_set


def test_a_run_with_unlabelled_text_distilled_on_its_transfer_set(tmp_path):
    examples_dir = tmp_path / "ExampleGen"
    examples_dir.mkdir()
    (examples_dir / "metadata.json").write_text('{"fingerprint": "x"}')
    examples = Artifact(str(examples_dir))
    assert not builds_transfer_set({"augment_multiplier": 1}, has_split(examples, "unlabeled"))
    assert builds_transfer_set({"augment_multiplier": 3}, has_split(examples, "unlabeled"))
    (examples_dir / "Split-unlabeled").mkdir()  # --augment-multiplier 1 --unlabeled PATH: the transfer set holds that text
    assert builds_transfer_set({"augment_multiplier": 1}, has_split(examples, "unlabeled"))


def test_values_are_json_scalars_else_strings():
    assert sweep.parse_values("0.1,1,true,abc") == [0.1, 1, True, "abc"]
    assert sweep.parse_assignment("transfer_set=false,true") == ("transfer_set", [False, True])


def test_a_distilled_twin_takes_its_distilled_hparams_in_runs_and_sweeps():
    from pipelines import configs
    from pipelines.pipeline import student_settings

    config = configs.build_config("reuters", True, "quick")
    assert student_settings(config, "kimcnn")["hparams"]["dropout"] == 0.5
    assert student_settings(config, "kimcnn", distill=True)["hparams"]["dropout"] == 0.0
    assert "distilled_hparams" not in student_settings(config, "kimcnn", distill=True)
    assert student_settings(config, "boe", distill=True)["hparams"] == student_settings(config, "boe")["hparams"]
    assert config["students"]["kimcnn"]["hparams"]["dropout"] == 0.5  # the config itself is left as it was
    # The distilled reg-LSTM drops all three of its regularisers; the plain one keeps them.
    lstm = {k: student_settings(config, "lstm", distill=d)["hparams"] for k, d in (("plain", False), ("kd", True))}
    regularisers = ("dropout", "embedding_dropout", "weight_drop")
    assert [lstm["kd"][k] for k in regularisers] == [0.0, 0.0, 0.0]
    assert [lstm["plain"][k] for k in regularisers] == [0.5, 0.1, 0.1]
    assert {k: v for k, v in lstm["kd"].items() if k not in regularisers} == {
        k: v for k, v in lstm["plain"].items() if k not in regularisers}
    # A sweep builds the same settings, and a value it varies wins over the distilled one.
    assert sweep.student_settings(config, "kimcnn", True, {})["hparams"]["dropout"] == 0.0
    assert sweep.student_settings(config, "kimcnn", False, {})["hparams"]["dropout"] == 0.5
    assert sweep.student_settings(config, "kimcnn", True, {"dropout": 0.25})["hparams"]["dropout"] == 0.25
    assert sweep.student_settings(config, "kimcnn", True, {"distill": False})["hparams"]["dropout"] == 0.5
    # The reference profile keeps the dropout its distilled KimCNN was measured with.
    reference = configs.build_config("reuters", True, "reference")
    assert student_settings(reference, "kimcnn", distill=True)["hparams"]["dropout"] == 0.5
    assert student_settings(reference, "lstm", distill=True)["hparams"]["dropout"] == 0.5
