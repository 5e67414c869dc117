import os

import pytest
import torch

from siamese_mnist.io import UnsafeCheckpointError, atomic_path, load_checkpoint, save_checkpoint, write_bytes


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
