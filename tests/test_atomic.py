import os
import subprocess
import sys

import pytest
import torch

from siamese_mnist.atomic import atomic_folder, atomic_path, load_checkpoint, save_checkpoint, write_bytes
from siamese_mnist.errors import DiskFullError, UnsafeCheckpointError


class Payload:
    """Unpickling this would run a shell command; weights_only loading must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pickled_callable_is_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "extra": Payload(marker)}, evil)
    with pytest.raises(UnsafeCheckpointError, match="refused to load"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_plain_checkpoint_round_trips(tmp_path):
    path = tmp_path / "ok.pt"
    save_checkpoint(path, {"w": torch.arange(3.0), "config": {"a": [1, 2]}, "epoch": 4})
    ck = load_checkpoint(path)
    assert torch.equal(ck["w"], torch.arange(3.0)) and ck["config"] == {"a": [1, 2]} and ck["epoch"] == 4


def test_failed_write_leaves_previous_file_and_no_temp(tmp_path):
    path = tmp_path / "out.bin"
    write_bytes(path, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"half-writ")
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_folder_is_swapped_in_whole_or_left_as_it_was(tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    (out / "old").write_text("old")
    (tmp_path / ".raw.tmp").mkdir()  # what a killed run leaves
    (tmp_path / ".raw.tmp" / "half").write_text("half")
    with pytest.raises(RuntimeError):
        with atomic_folder(out) as tmp:
            assert tmp.name == ".raw.tmp" and list(tmp.iterdir()) == []  # the leftover was cleared first
            (tmp / "new").write_text("new")
            raise RuntimeError("failed mid-way")
    assert [p.name for p in out.iterdir()] == ["old"] and not (tmp_path / ".raw.tmp").exists()
    with atomic_folder(out) as tmp:
        (tmp / "new").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new"] and sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask  # the usual mode, not mkdtemp's 0700


def fill_the_disk(_tmp):
    """A real ENOSPC from the kernel: /dev/full refuses every write with it."""
    with open("/dev/full", "wb") as fh:
        fh.write(b"x" * 100_000)
        fh.flush()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_names_the_output_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "metrics.json"
    write_bytes(path, b"old")
    with pytest.raises(DiskFullError, match=rf"^\[Errno 28\] disk full writing {path}; free some space and rerun$"):
        with atomic_path(path) as tmp:
            fill_the_disk(tmp)
    with pytest.raises(DiskFullError, match=rf"disk full writing {tmp_path / 'raw'}; free"):
        with atomic_folder(tmp_path / "raw") as tmp:
            fill_the_disk(tmp)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_stage_that_meets_a_full_disk_says_so_in_one_line_exit_2(tmp_path):
    code = ("from siamese_mnist.atomic import atomic_path\nfrom siamese_mnist.runtime import run_stage\n"
            "def main():\n    with atomic_path('out.bin') as tmp:\n        open('/dev/full', 'wb').write(b'x' * 99999)\n"
            "run_stage(main)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr == "error: disk full writing out.bin; free some space and rerun\n"
    # one written elsewhere (dvclive's, DVC's): still one line
    code = "from siamese_mnist.runtime import run_stage\nrun_stage(lambda: open('/dev/full', 'wb').write(b'x' * 99999))\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr == "error: disk full; free some space and rerun\n", proc.stderr
