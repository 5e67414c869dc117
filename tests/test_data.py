import gzip
import shutil

import numpy as np
import pytest

from siamese_mnist.datasets.catalog import DATASETS
from siamese_mnist.datasets.fetch import download, fetch_from, gunzip, sources_for, verify
from siamese_mnist.datasets.idx import parse_idx
from siamese_mnist.datasets.splits import load_split, split_validation, stratified_subset
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


def test_real_files_verify_and_have_known_label_counts(raw_dir):
    _, labels = load_split(raw_dir, "train")
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    images, labels = load_split(raw_dir, "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_checksum_mismatch_is_rejected(raw_dir):
    spec = DATASETS["mnist"]["files"]["t10k-labels-idx1-ubyte"]
    raw = bytearray((raw_dir / spec.name).read_bytes())
    raw[-1] ^= 1  # same size, valid header, one label changed
    with pytest.raises(DataError, match="sha256"):
        verify(bytes(raw), spec)


def test_truncated_gzip_is_rejected(mnist_dir):
    blob = (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    with pytest.raises(DataError, match="not a valid gzip"):
        gunzip(blob[: len(blob) // 2], "t10k-labels-idx1-ubyte.gz")


def test_html_error_page_is_rejected():
    with pytest.raises(DataError, match="HTML page"):
        gunzip(b"<!DOCTYPE html><html><body>Access denied</body></html>", "x.gz")


def test_gzip_of_wrong_bytes_is_rejected(tmp_path, mnist_dir):
    for f in mnist_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    # right size and header, wrong labels: only the checksum can tell
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(10000, np.uint8))))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: sha256"):
        fetch_from(str(tmp_path), "mnist")


def test_download_falls_through_sources_and_lists_every_failure(tmp_path, mnist_dir):
    out = tmp_path / "raw"
    with pytest.raises(DataError) as exc:
        download("mnist", out, [str(tmp_path / "nowhere"), "http://127.0.0.1:9/"], timeout=2)
    msg = str(exc.value)
    assert "nowhere" in msg and "127.0.0.1:9" in msg
    assert not out.exists() and list(tmp_path.iterdir()) == []
    download("mnist", out, [str(tmp_path / "nowhere"), str(mnist_dir)])
    assert sorted(p.name for p in out.iterdir()) == sorted(DATASETS["mnist"]["files"])


def test_mirror_env_comes_first():
    assert sources_for("mnist", {"MNIST_MIRROR": "/m"})[:2] == ["/m", "https://ossci-datasets.s3.amazonaws.com/mnist/"]
    assert sources_for("mnist", {})[0].startswith("https://")
    assert sources_for("mnist", {"MNIST_MIRROR": "/m", "MNIST_OFFLINE": "1"}) == ["/m"]
    with pytest.raises(DataError, match="MNIST_MIRROR is not set"):
        sources_for("mnist", {"MNIST_OFFLINE": "1"})


def test_stratified_subset_is_exact_seeded_and_proportional():
    labels = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 100])
    idx = stratified_subset(labels, 110, seed=3)
    assert len(idx) == 110 and len(set(idx)) == 110
    counts = np.bincount(labels[idx])
    assert counts[1] == 20 and set(counts[[0, 2, 3, 4, 5, 6, 7, 8, 9]]) == {10}
    assert np.array_equal(idx, stratified_subset(labels, 110, seed=3))
    assert not np.array_equal(idx, stratified_subset(labels, 110, seed=4))
    assert np.array_equal(stratified_subset(labels, None, 0), np.arange(len(labels)))


def test_validation_split_is_disjoint_stratified_seeded_and_apart_from_the_subset_draw():
    labels = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 100])
    train, val = split_validation(labels, 110, seed=3)
    assert len(val) == 110 and len(train) == 990 and not set(train) & set(val)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1100))
    counts = np.bincount(labels[val])
    assert counts[1] == 20 and set(counts[[0, 2, 3, 4, 5, 6, 7, 8, 9]]) == {10}
    assert np.array_equal(val, split_validation(labels, 110, seed=3)[1])
    assert not np.array_equal(val, split_validation(labels, 110, seed=4)[1])
    # its own random stream: not the same images a train_limit subset of that size would take
    assert not np.array_equal(val, stratified_subset(labels, 110, seed=3))
