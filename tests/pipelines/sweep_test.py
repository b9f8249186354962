from pipelines import sweep


def test_a_run_with_unlabelled_text_distilled_on_its_transfer_set(tmp_path):
    unlabeled = tmp_path / "ExampleGen" / "Split-unlabeled"
    assert not sweep.distilled_on_transfer_set({"augment_multiplier": 1}, str(unlabeled))
    assert sweep.distilled_on_transfer_set({"augment_multiplier": 3}, str(unlabeled))
    unlabeled.mkdir(parents=True)  # --augment-multiplier 1 --unlabeled PATH: the transfer set holds that text
    assert sweep.distilled_on_transfer_set({"augment_multiplier": 1}, str(unlabeled))


def test_values_are_json_scalars_else_strings():
    assert sweep.parse_values("0.1,1,true,abc") == [0.1, 1, True, "abc"]
    assert sweep.parse_assignment("transfer_set=false,true") == ("transfer_set", [False, True])
