"""datasets/omniglot.py: upstream's zips verified member by member, all or nothing, bounded, over a folder or HTTP."""

from __future__ import annotations

import re
import shutil
import zipfile

import numpy as np
import pytest

from siamese_mnist.datasets.omniglot import ZIPS, download, verify_zip
from siamese_mnist.datasets.omniglot_splits import read_characters, read_runs
from siamese_mnist.errors import DataError
from siamese_mnist.lake_runs import ink

SMALL = ["all_runs.zip", "images_background_small1.zip"]  # two of the five: the others are verified the same way


def rezip(src, dest, change=None, extra=(), drop=None):
    """A copy of zip ``src`` with ``change(name, data) -> data`` applied to its members, member ``drop`` left out
    and ``extra`` members added."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename == drop:
                continue
            data = zin.read(info)
            zout.writestr(info.filename, change(info.filename, data) if change else data)
        for name, data in extra:
            zout.writestr(name, data)
    return dest


def test_the_real_zips_verify_from_a_folder_and_over_http(omniglot_dir, tmp_path, serve):
    download(tmp_path / "raw", SMALL, [str(omniglot_dir)])
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == sorted(SMALL)
    assert (tmp_path / "raw/all_runs.zip").read_bytes() == (omniglot_dir / "all_runs.zip").read_bytes()
    assert len(read_runs(tmp_path / "raw/all_runs.zip")) == 20
    download(tmp_path / "http", SMALL, [serve(omniglot_dir)])
    assert sorted(p.name for p in (tmp_path / "http").iterdir()) == sorted(SMALL)


def test_every_pinned_zip_of_the_shared_copy_verifies(omniglot_dir):
    # the big zips' own bytes differ from upstream's (rebuilt); their members are what is pinned
    for name in ZIPS:
        verify_zip((omniglot_dir / name).read_bytes(), name)


def test_a_recompressed_copy_with_the_same_members_verifies(omniglot_dir, tmp_path):
    copy = rezip(omniglot_dir / "all_runs.zip", tmp_path / "all_runs.zip")
    assert copy.read_bytes() != (omniglot_dir / "all_runs.zip").read_bytes()
    verify_zip(copy.read_bytes(), "all_runs.zip")


@pytest.mark.parametrize("damage, message", [
    ("one member's byte", r"all_runs.zip: member digest \w+… does not match pinned fddcb6df77fd…"),
    ("a member more", r"all_runs.zip: 821 files, expected 820"),
    ("a path outside", r"all_runs.zip: member '../evil.txt' points outside the archive; refused"),
    ("a bomb", r"all_runs.zip: member run01/test/item01.png inflates past 65536 bytes; refused"),
    ("not a zip", r"all_runs.zip: not a zip file"),
])
def test_a_damaged_zip_is_one_line_and_nothing_is_written(omniglot_dir, tmp_path, damage, message):
    src, bad = omniglot_dir / "all_runs.zip", tmp_path / "mirror" / "all_runs.zip"
    bad.parent.mkdir()
    for other in SMALL[1:]:
        shutil.copy(omniglot_dir / other, bad.parent / other)
    if damage == "one member's byte":
        rezip(src, bad, lambda n, d: d[:-1] + bytes([d[-1] ^ 1]) if n == "run07/test/item03.png" else d)
    elif damage == "a member more":
        rezip(src, bad, extra=[("run01/notes.txt", b"x")])
    elif damage == "a path outside":  # in place of one member, so the count is right and the path is what fails
        rezip(src, bad, extra=[("../evil.txt", b"x")], drop="run01/test/item01.png")
    elif damage == "a bomb":  # 50 MB of zeros deflate to 50 KB: refused once past the cap, never held whole
        rezip(src, bad, lambda n, d: bytes(50 << 20) if n == "run01/test/item01.png" else d)
    else:
        bad.write_bytes(b"<html><body>Not Found</body></html>\n")
    with pytest.raises(DataError) as exc:
        download(tmp_path / "raw", SMALL, [str(bad.parent)])
    assert "\n" not in str(exc.value).split("every source failed:\n", 1)[1].strip()
    assert any(re.search(message, line) for line in str(exc.value).splitlines()), str(exc.value)
    assert not (tmp_path / "raw").exists()


def test_the_next_source_serves_what_the_first_could_not(omniglot_dir, tmp_path, serve):
    empty = tmp_path / "empty"
    empty.mkdir()
    download(tmp_path / "raw", ["all_runs.zip"], [str(empty), serve(omniglot_dir)])
    assert (tmp_path / "raw/all_runs.zip").exists()
    with pytest.raises(DataError, match=r"every source failed:\n  .*empty/all_runs.zip: No such file"):
        download(tmp_path / "none", ["all_runs.zip"], [str(empty)])



def test_a_zip_becomes_ink_bright_squares_labelled_by_character(omniglot_dir):
    images, labels, names = read_characters(omniglot_dir / "images_background_small1.zip", 28)
    # small1: Balinese, Early_Aramaic, Greek, Korean, Latin; 136 characters of 20 drawings each
    assert images.shape == (2720, 28, 28) and images.dtype == np.uint8
    assert names[0] == "Balinese/character01" and len(names) == 136 and names[-1].startswith("Latin/")
    assert labels.dtype == np.int32 and np.array_equal(np.bincount(labels), np.full(136, 20))
    assert np.median(images[:, 0, :]) == 0 and images.max() == 255  # paper black, full strokes white, as MNIST
    # box filter: a 28 x 28 pixel is the mean of the 105/28 = 3.75 x 3.75 input pixels it covers, so ink is
    # nearly conserved: each image's mean brightness is its share of inked pixels at 105 x 105 within 0.5 % here
    # (Pillow weighs the partly covered edge pixels per output pixel); nearest-neighbour sampling is off by 3.4 %
    with zipfile.ZipFile(omniglot_dir / "images_background_small1.zip") as zf:
        share = np.array([ink(zf.read(n)).mean() for n in sorted(zf.namelist()) if n.endswith(".png")])
    assert np.abs(images.mean(axis=(1, 2)) / 255 - share).max() < 0.01


def test_the_runs_are_drawn_from_the_evaluation_set(omniglot_dir):
    # run01 and run02 are Atlantean: each of their 80 images is an image of that alphabet in images_evaluation.zip
    with zipfile.ZipFile(omniglot_dir / "images_evaluation.zip") as zf:
        atlantean = {ink(zf.read(n)).tobytes() for n in zf.namelist() if "/Atlantean/" in n and n.endswith(".png")}
    runs = read_runs(omniglot_dir / "all_runs.zip")[:2]
    assert all(ink(png).tobytes() in atlantean for r in runs for png in r.train + r.test)


def test_omniglot_takes_the_mirror_first_then_upstream_unless_offline(monkeypatch, tmp_path, omniglot_dir):
    from siamese_mnist.datasets.omniglot import UPSTREAM

    monkeypatch.setenv("OMNIGLOT_MIRROR", str(omniglot_dir))
    monkeypatch.setenv("MNIST_MIRROR", str(tmp_path / "elsewhere"))  # MNIST's mirror is not Omniglot's
    monkeypatch.setenv("MNIST_OFFLINE", "1")
    download(tmp_path / "raw", ["all_runs.zip"])  # the mirror alone: no network asked
    assert (tmp_path / "raw/all_runs.zip").exists()
    monkeypatch.delenv("OMNIGLOT_MIRROR")
    with pytest.raises(DataError, match=r"^MNIST_OFFLINE=1 but OMNIGLOT_MIRROR is not set: no source to download "
                                        r"from$"):
        download(tmp_path / "none", ["all_runs.zip"])
    assert UPSTREAM.endswith("/brendenlake/omniglot/master/python/")
