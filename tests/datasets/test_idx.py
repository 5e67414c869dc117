"""The IDX file format, against bytes written by hand."""

import numpy as np
import pytest

from siamese_mnist.datasets.idx import parse_idx
from siamese_mnist.errors import DataError


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_parse_idx_reads_header_and_body():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(idx_bytes(arr))
    assert out.shape == (2, 3, 4)
    assert np.array_equal(out, arr)


def test_parse_idx_rejects_bad_magic_and_truncation():
    good = idx_bytes(np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match="magic"):
        parse_idx(b"\x01" + good[1:])
    with pytest.raises(DataError, match="body has 3 bytes, header declares 4"):
        parse_idx(good[:-1])
