"""kdkeras.logs: library chatter filtered out of stderr, everything else passed through."""

import os
import subprocess
import sys
import textwrap
import types

import pytest

NOISE_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796041505.865889    4475 port.cc:153] oneDNN custom operations are on.",
    "E0000 00:00:1796041513.121388    4475 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
    "WARNING:root:apitools not found, and bigquery client libraries are not available despite the import",
    "WARNING:tensorflow:5 out of the last 21 calls to <function f at 0x7f> triggered tf.function retracing.",
    "E0000 00:00:1796215609.924783    2979 util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512. "
    "Falling back to the default Eigen-based implementation if present.",
    "fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, output_inference_type: FLOAT32",
]
KEPT_LINES = [
    "[TeacherTrainer] running",
    "W0000 00:00:1796041513.1 4475 allocator.cc:1] Allocation of 1000000000 exceeds 10% of free memory.",
    "UserWarning: something we do not know about",
]


def _child(code, verbose=False):
    env = {k: v for k, v in os.environ.items() if k != "KDKERAS_VERBOSE"}
    if verbose:
        env["KDKERAS_VERBOSE"] = "1"
    source = "from kdkeras import logs\nlogs.quiet_console()\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", source], env=env, capture_output=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    # Decoded by hand: text mode would turn the progress bars' \r into \n.
    return types.SimpleNamespace(returncode=out.returncode, stdout=out.stdout.decode(), stderr=out.stderr.decode())


WRITE_ALL = f"""
import os
for line in {NOISE_LINES + KEPT_LINES!r}:
    os.write(2, (line + "\\n").encode())
"""


def test_noise_is_dropped_and_everything_else_kept():
    out = _child(WRITE_ALL + "print('stdout untouched')")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "stdout untouched\n"
    for line in NOISE_LINES:
        assert line not in out.stderr
    assert out.stderr.splitlines() == KEPT_LINES


def test_beam_worker_progress_gets_the_component_prefix():
    line = "INFO:kdkeras.transfer_set:transfer set: copies_made 1000 (this worker)"
    out = _child(f"import os\nos.write(2, {line!r}.encode() + b'\\n')\nos.write(2, {line!r}.encode())")
    assert out.returncode == 0, out.stderr
    assert out.stderr.split("\n") == ["[TransferSet] copies_made 1000 (this worker)"] * 2
    assert _child(f"import os\nos.write(2, {line!r}.encode())", verbose=True).stderr == line


def test_verbose_keeps_every_line():
    out = _child(WRITE_ALL, verbose=True)
    assert out.stderr.splitlines() == NOISE_LINES + KEPT_LINES


def test_tracebacks_and_exit_status_pass_through():
    out = _child(WRITE_ALL + "raise ValueError('boom')")
    assert out.returncode == 1
    assert "Traceback (most recent call last)" in out.stderr
    assert out.stderr.rstrip().endswith("ValueError: boom")
    assert "cuInit" not in out.stderr


def test_child_processes_are_filtered_and_progress_bars_kept():
    code = f"""
    import subprocess, sys
    subprocess.run([sys.executable, "-c", {WRITE_ALL!r}], check=True)
    sys.stderr.write("progress 1/2\\rprogress 2/2\\n")
    """
    out = _child(code)
    assert out.returncode == 0, out.stderr
    assert out.stderr.split("\n") == KEPT_LINES + ["progress 1/2\rprogress 2/2", ""]


@pytest.mark.slow
def test_tensorflow_start_up_is_quiet():
    code = """
    import tensorflow as tf
    tf.config.list_physical_devices()
    print(float(tf.constant(2.0) * 2))
    """
    loud = _child(code, verbose=True)
    if "absl::InitializeLog" not in loud.stderr and "cuInit" not in loud.stderr:
        pytest.skip("this TensorFlow build prints no start-up chatter here")
    quiet = _child(code)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "4.0"
    assert quiet.stderr == ""
