"""Machine settings: how many threads and which device a stage uses, from the environment."""

import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from siamese_mnist.errors import DeviceError
from siamese_mnist.runtime import available_cores, machine_settings


def affinity() -> int:
    return len(os.sched_getaffinity(0))


def test_cgroup_v2_quota_caps_the_cores(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")  # one CPU's worth of time per period
    assert available_cores(str(tmp_path)) == 1


def test_fractional_quota_rounds_up(tmp_path):
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU still gets one thread
    assert available_cores(str(tmp_path)) == 1
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # 1.5 CPUs -> 2 threads, if the mask allows
    assert available_cores(str(tmp_path)) == min(2, affinity())


def test_cgroup_v1_quota_caps_the_cores(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cores(str(tmp_path)) == 1


def test_no_quota_means_the_affinity_mask(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert available_cores(str(tmp_path)) == affinity()
    assert available_cores(str(tmp_path / "missing")) == affinity()


def test_machine_settings_come_from_the_environment_with_defaults():
    assert machine_settings({}) == ("auto", 0)
    assert machine_settings({"SIAMESE_MNIST_THREADS": "1", "SIAMESE_MNIST_DEVICE": "cpu"}) == ("cpu", 1)
    assert machine_settings({"SIAMESE_MNIST_DEVICE": "cuda:1"}) == ("cuda:1", 0)


@pytest.mark.parametrize("env, message", [
    ({"SIAMESE_MNIST_THREADS": "two"}, "SIAMESE_MNIST_THREADS='two' should be a whole number"),
    ({"SIAMESE_MNIST_THREADS": "-1"}, "SIAMESE_MNIST_THREADS='-1' should be a whole number"),
    ({"SIAMESE_MNIST_DEVICE": "gpu"}, "SIAMESE_MNIST_DEVICE='gpu' is not one of"),
])
def test_bad_machine_settings_name_the_variable(env, message):
    with pytest.raises(DeviceError, match=message):
        machine_settings(env)


CHILD = """
import sys, time
from siamese_mnist.runtime import Interrupted, run_stage
def main():
    print("ready", flush=True)
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        raise Interrupted("cnn interrupted after epoch 1; `dvc repro` resumes from it")
run_stage(main)
"""


@pytest.mark.parametrize("shell", [s for s in ("/bin/sh", "/bin/bash", "/bin/dash") if shutil.which(s)])
def test_ctrl_c_prints_one_line_and_dies_by_sigint_whatever_the_shell(shell):
    """DVC runs a stage through $SHELL -c (dash where SHELL is unset): Ctrl-C reaches the whole process group.
    The stage prints one line and dies by SIGINT, so every shell reports the same status (-2 to DVC)."""
    proc = subprocess.Popen([shell, "-c", f"{sys.executable} -c '{CHILD}'"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert err == "cnn interrupted after epoch 1; `dvc repro` resumes from it\n"
    assert proc.returncode == -signal.SIGINT


def test_threads_above_the_cores_are_capped_with_one_warning(caplog):
    """9999 threads made ~20 000 OS threads and 35 s steps: never more than the cores available."""
    import torch

    from siamese_mnist.runtime import set_threads

    before = torch.get_num_threads()
    try:
        with caplog.at_level(logging.WARNING):
            assert set_threads(9999) == available_cores()
        assert [r.message for r in caplog.records] == [
            f"SIAMESE_MNIST_THREADS=9999 is more than the {available_cores()} available cores; "
            f"using {available_cores()}"]
        assert set_threads(1) == 1
    finally:
        torch.set_num_threads(before)
