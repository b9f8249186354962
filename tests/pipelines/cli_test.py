from pipelines import cli


def test_command_line_is_the_command_as_typed_with_quoting():
    assert cli.command_line("pipelines.sweep", ["--run-dir", "runs/a b", "--vary", "alpha=0,1"]) == (
        "python -m pipelines.sweep --run-dir 'runs/a b' --vary alpha=0,1")
    assert cli.command_line("pipelines.benchmark", []) == "python -m pipelines.benchmark "
