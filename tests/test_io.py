import os

import pytest
import torch

from siamese_mnist.io import (UnsafeCheckpointError, atomic_folder, atomic_path, load_checkpoint, save_checkpoint,
                              write_bytes)


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
