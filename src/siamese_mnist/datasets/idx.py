"""The IDX file format every split is stored in (MNIST's own; a folder dataset is ingested into it too)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError

# split -> file prefix. val: a folder dataset's own, Omniglot's held-out alphabets; runs (Lake's 20 runs) and
# transfer (MNIST test digits): Omniglot's only.
SPLIT_PREFIX = {"train": "train", "val": "val", "test": "t10k", "runs": "runs", "transfer": "transfer"}


def split_files(raw_dir: str | Path, split: str) -> tuple[Path, Path]:
    """(images, labels) IDX paths of ``split`` in a raw-data folder."""
    prefix = Path(raw_dir) / SPLIT_PREFIX[split]
    return Path(f"{prefix}-images-idx3-ubyte"), Path(f"{prefix}-labels-idx1-ubyte")


TYPES = {0x08: np.dtype(np.uint8), 0x0C: np.dtype(">i4")}  # IDX type code -> dtype (labels of > 256 classes: int32)


def idx_bytes(arr: np.ndarray) -> bytes:
    """uint8 (pixels, labels of up to 256 classes) or int32 array -> IDX bytes (the inverse of :func:`parse_idx`)."""
    code = 0x0C if arr.dtype == np.int32 else 0x08
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(arr, dtype=TYPES[code]).tobytes()


def parse_idx(raw: bytes) -> np.ndarray:
    """IDX bytes -> uint8 (or int32) array of the shape the header declares.

    Header: two zero bytes, a type code (0x08 = unsigned byte, 0x0C = big-endian int32), the number of dimensions,
    then one big-endian uint32 per dimension.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError("not an IDX file (bad magic number)")
    if raw[2] not in TYPES:
        raise DataError(f"IDX type code 0x{raw[2]:02x} is not unsigned byte (0x08) or int32 (0x0C)")
    dtype = TYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("IDX header is truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"IDX body has {len(raw) - header} bytes, header declares {expected - header}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr if dtype == np.uint8 else arr.astype(np.int32)
