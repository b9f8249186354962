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
