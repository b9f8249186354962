"""Command-line helpers shared by the pipelines' commands."""

import argparse


class ArgumentParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` whose usage errors are one line on stderr.

    `error: argument --dataset: invalid choice: 'nope' (choose from ...) (see
    python -m pipelines.run --help)`, exit status 2, like every other input
    error of the commands.
    """

    def error(self, message):
        self.exit(2, f"error: {' '.join(str(message).split())} (see {self.prog} --help)\n")


def plain_name(what):
    """An argparse `type` accepting a plain directory name (no `/`, not `..`), e.g. a run id."""
    from kdkeras.paths import UnsafePathError, check_name

    def parse(value):
        try:
            return check_name(value, what)
        except UnsafePathError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def int_list(text):
    """An argparse `type` for comma-separated positive integers, e.g. `--windows 1,2,4` (empty items skipped)."""
    import argparse

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def positive_int(value):
    """An argparse `type` for a positive whole number, e.g. `--jobs 2`."""
    import argparse

    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return number


def jobs(requested=None, *, distribute="none"):
    """Worker processes for independent trainings: `requested` (`--jobs`), or one per core (at most 4), a single
    one when training is distributed or a GPU is visible (workers would compete for its memory)."""
    if requested:
        return requested
    from components.parallel import default_jobs
    import tensorflow as tf

    if distribute != "none" or tf.config.list_physical_devices("GPU"):
        return 1
    return default_jobs()


def command_line(module, argv=None):
    """The command as typed, for results files: `python -m <module> <args>` (`argv` None: this process's)."""
    import shlex
    import sys

    return f"python -m {module} " + shlex.join(sys.argv[1:] if argv is None else argv)


def add_verbose(parser):
    """Adds `--verbose`: keep TensorFlow, absl, TFLite and Beam log lines (see `kdkeras.logs`)."""
    parser.add_argument("--verbose", action="store_true",
                        help="also print TensorFlow, absl, TFLite and Beam log lines (filtered out by default)")


def quiet_console(args):
    """Filters library chatter out of stderr unless `args.verbose`; call before TensorFlow is imported."""
    from kdkeras import logs

    logs.quiet_console(verbose=getattr(args, "verbose", False))


def write_result(module, argv, compute, output, describe):
    """Runs a benchmark and writes its results file; the exit status of its command.

    `compute()` returns the results dict; it gets the `command` as typed and
    is written to `output` (atomically), `describe(result)` is printed, then
    the file's path. A `FileNotFoundError` or `ValueError` (a missing run,
    bad values) is one line on stderr and exit status 2, with nothing written.
    """
    import sys

    from components.base import write_json

    try:
        result = compute()
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result["command"] = command_line(module, argv)
    write_json(output, result)
    print(describe(result))
    print(f"\nresults: {output}")
    return 0
