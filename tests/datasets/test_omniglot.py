"""datasets/omniglot.py: upstream's zips verified member by member, all or nothing, bounded, over a folder or HTTP."""

from __future__ import annotations

import re
import shutil
import zipfile

import pytest

from siamese_mnist.datasets.omniglot import ZIPS, download, read_runs, verify_zip
from siamese_mnist.errors import DataError

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

