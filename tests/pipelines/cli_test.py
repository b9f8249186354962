from pipelines import cli


def test_command_line_is_the_command_as_typed_with_quoting():
    assert cli.command_line("pipelines.sweep", ["--run-dir", "runs/a b", "--vary", "alpha=0,1"]) == (
        "python -m pipelines.sweep --run-dir 'runs/a b' --vary alpha=0,1")
    assert cli.command_line("pipelines.benchmark", []) == "python -m pipelines.benchmark "


def test_write_result_stamps_the_command_and_reports_errors(tmp_path, capsys):
    import json

    from pipelines import cli

    out = str(tmp_path / "result.json")
    assert cli.write_result("pipelines.x", ["--a", "b c"], lambda: {"value": 1}, out, lambda r: f"value {r['value']}") == 0
    assert json.load(open(out)) == {"value": 1, "command": "python -m pipelines.x --a 'b c'"}
    assert "value 1" in capsys.readouterr().out

    def missing():
        raise FileNotFoundError("run/TeacherTrainer: not a finished pipeline artifact")

    other = str(tmp_path / "other.json")
    assert cli.write_result("pipelines.x", [], missing, other, str) == 2
    assert capsys.readouterr().err.strip() == "error: run/TeacherTrainer: not a finished pipeline artifact"
    assert not (tmp_path / "other.json").exists()


def test_int_list_skips_empty_items_and_rejects_non_positive_values():
    import argparse

    import pytest

    assert cli.int_list("1,2,4") == [1, 2, 4]
    assert cli.int_list("128, 256,") == [128, 256]
    for bad in ("", ",", "1,x", "0,4", "-1"):
        with pytest.raises(argparse.ArgumentTypeError, match="positive integers"):
            cli.int_list(bad)
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=cli.int_list)
    with pytest.raises(SystemExit):
        parser.parse_args(["--windows", "1,,x"])


def test_positive_int_and_requested_jobs():
    import argparse

    import pytest

    assert cli.positive_int("3") == 3
    for bad in ("0", "-2", "two"):
        with pytest.raises(argparse.ArgumentTypeError, match="positive whole number"):
            cli.positive_int(bad)
    assert cli.jobs(3) == 3 and cli.jobs(None, distribute="mirrored") == 1
