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


def test_labels_of_more_than_256_classes_round_trip_as_int32():
    from siamese_mnist.datasets.idx import idx_bytes as write

    labels = np.array([0, 255, 256, 963], dtype=np.int32)
    raw = write(labels)
    # by hand: magic 0 0, type 0x0C, 1 dimension of 4, then big-endian int32s
    assert raw[:8] == bytes([0, 0, 0x0C, 1, 0, 0, 0, 4]) and raw[8 + 4 * 2:8 + 4 * 3] == bytes([0, 0, 1, 0])
    out = parse_idx(raw)
    assert out.dtype == np.int32 and np.array_equal(out, labels)
    assert write(np.arange(4, dtype=np.uint8)) == idx_bytes(np.arange(4, dtype=np.uint8))  # uint8 as before
    with pytest.raises(DataError, match=r"IDX type code 0x0d is not unsigned byte \(0x08\) or int32 \(0x0C\)"):
        parse_idx(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]))
