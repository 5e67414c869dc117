"""The folder dataset: image preparation worked out by hand, the layout rules, every bad input."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os

import numpy as np
import pytest
from PIL import Image

from siamese_mnist.config import params_from_dict
from siamese_mnist.datasets.folder import ingest, prepare_image, scan
from siamese_mnist.datasets.splits import load_class_names, load_splits
from siamese_mnist.errors import DatasetError, ParamsError


def png(pixels: np.ndarray, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def make_tree(root, counts: dict[str, dict[str, int]], size=(6, 6)):
    """``counts[split][class]`` images of a flat grey level (10 × class index + 5 × image index) each."""
    for split, classes in counts.items():
        for c, (name, n) in enumerate(sorted(classes.items())):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                (d / f"img{i}.png").write_bytes(png(np.full(size[::-1], 10 * c + 5 * i)))
    return root


def test_prepare_image_pads_with_the_border_median_and_keeps_the_aspect():
    # 2 rows x 4 columns; its border is every pixel: values 0, 0, 0, 9, 9, 9, 9, 200 -> median 9.
    pixels = np.array([[0, 0, 0, 9], [9, 9, 9, 200]], dtype=np.uint8)
    out = prepare_image(png(pixels), 4, "x.png")  # already 4 wide: padded to 4x4, no resize
    expected = np.array([[9, 9, 9, 9], [0, 0, 0, 9], [9, 9, 9, 200], [9, 9, 9, 9]], dtype=np.uint8)
    assert np.array_equal(out, expected)


def test_prepare_image_converts_colour_to_grayscale_and_resizes():
    rgb = np.zeros((10, 10, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red: ITU-R 601 luma 0.299 * 255 = 76
    out = prepare_image(png(rgb, "RGB"), 5, "red.png")
    assert out.shape == (5, 5) and out.dtype == np.uint8
    assert np.all(out == 76)


RAMP = np.arange(65536).reshape(256, 256)  # every 16-bit level once: pixel (r, c) holds 256 r + c


@pytest.mark.parametrize("mode, fmt", [("I;16", "PNG"), ("I;16B", "TIFF"), ("I", "TIFF")])
def test_16_bit_levels_are_scaled_to_8_bits_not_clipped(mode, fmt):
    dtype = {"I;16": "<u2", "I;16B": ">u2", "I": np.int32}[mode]
    buf = io.BytesIO()
    Image.frombytes(mode, (256, 256), RAMP.astype(dtype).tobytes()).save(buf, format=fmt)
    assert Image.open(buf).mode == mode  # the file really opens in the mode under test
    out = prepare_image(buf.getvalue(), 256, "deep.png")
    # v -> round(v * 255 / 65535) = round(v / 257); never a half (2v would be an odd multiple of 257)
    assert out[0, 128] == 0 and out[0, 129] == 1  # 128 / 257 = 0.498, 129 / 257 = 0.502
    assert out[1, 1] == 1 and out[128, 128] == 128  # 257 / 257; 32896 = 128 * 257
    assert out[255, 126] == 254 and out[255, 127] == out[255, 255] == 255  # 65406/257 = 254.498, 65407: 254.502
    # levels 0 and 255 take 129 values each (0..128, 65407..65535), every other level 257; clipping
    # (convert("L")) put 65281 of the 65536 pixels at 255
    assert np.bincount(out.ravel()).tolist() == [129] + [257] * 254 + [129]


def test_transparent_pixels_are_composited_on_black():
    # level = luma * alpha / 255: opaque red keeps its luma 76; white at alpha 128 -> 128;
    # grey 100 at alpha 128 -> 12800 / 255 = 50.2 -> 50; transparent white -> 0 (255 on a white background)
    rgba = np.array([[[255, 0, 0, 255], [255, 255, 255, 128]], [[100, 100, 100, 128], [255, 255, 255, 0]]])
    assert prepare_image(png(rgba, "RGBA"), 2, "rgba.png").tolist() == [[76, 128], [50, 0]]
    la = np.array([[[200, 51], [200, 255]], [[255, 0], [10, 255]]])  # 200 * 51 / 255 = 40
    assert prepare_image(png(la, "LA"), 2, "la.png").tolist() == [[40, 200], [0, 10]]


@pytest.mark.parametrize("mode", ["L", "RGB", "P", "RGBA"])
def test_8_bit_opaque_images_are_converted_as_pillow_converts_them(mode):
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3))
    data = png(rgb, mode)  # RGBA: opaque (alpha 255 everywhere)
    assert np.array_equal(prepare_image(data, 8, "x.png"), np.asarray(Image.open(io.BytesIO(data)).convert("L")))


@pytest.mark.parametrize("data, reason", [
    (b"", r"empty file \(0 bytes\)"),
    (b"not an image at all", "not a readable image"),
])
def test_prepare_image_refuses_what_is_not_an_image(data, reason):
    with pytest.raises(DatasetError, match=reason) as exc:
        prepare_image(data, 28, "bad.png")
    assert str(exc.value).startswith("bad.png: ")


def test_truncated_image_is_refused():
    data = png(np.random.default_rng(0).integers(0, 255, (40, 40)))
    with pytest.raises(DatasetError, match="cut.png: not a readable image"):
        prepare_image(data[: len(data) // 2], 28, "cut.png")


def test_ingest_writes_the_arrays_classes_and_manifest(tmp_path):
    root = make_tree(tmp_path / "ds", {"train": {"cat": 3, "dog": 3}, "test": {"cat": 1, "dog": 2}})
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    out = tmp_path / "raw"
    found = ingest(root, out, 6)
    assert found.skipped == {"not an image file": 1}
    assert load_class_names(out, "folder") == ["cat", "dog"]
    splits = load_splits(out, None, None, 1 / 3, seed=0)  # no val/: 2 of the 6 training images become validation
    images, labels = splits.test
    assert labels.tolist() == [0, 1, 1]
    assert images[:, 0, 0].tolist() == [0, 10, 15]  # cat img0, dog img0, dog img1 (flat grey levels)
    assert splits.train[1].tolist() == [0, 0, 1, 1] and len(splits.val[1]) == 2
    assert sorted(splits.val[1].tolist()) == [0, 1]  # stratified: one of each class
    with open(out / "manifest.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["path"] for r in rows] == ["train/cat/img0.png", "train/cat/img1.png", "train/cat/img2.png",
                                         "train/dog/img0.png", "train/dog/img1.png", "train/dog/img2.png",
                                         "test/cat/img0.png", "test/dog/img0.png", "test/dog/img1.png"]
    assert rows[3]["class"] == "dog" and rows[3]["split"] == "train"
    assert rows[3]["sha256"] == hashlib.sha256((root / "train/dog/img0.png").read_bytes()).hexdigest()


def test_a_val_folder_is_used_instead_of_carving(tmp_path):
    root = make_tree(tmp_path / "ds", {"train": {"a": 2, "b": 2}, "val": {"a": 1, "b": 1}, "test": {"a": 1, "b": 1}})
    ingest(root, tmp_path / "raw", 6)
    splits = load_splits(tmp_path / "raw", None, None, 5000, seed=0)
    assert len(splits.train[1]) == 4 and splits.val[1].tolist() == [0, 1]


def test_symlinks_leaving_the_root_are_not_followed(tmp_path):
    root = make_tree(tmp_path / "ds", {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}})
    outside = make_tree(tmp_path / "elsewhere", {"x": {"a": 3}})
    (root / "train" / "a" / "link.png").symlink_to(outside / "x" / "a" / "img0.png")
    (root / "train" / "b" / "more").symlink_to(outside / "x" / "a", target_is_directory=True)
    found = scan(root)
    assert len(found.files["train"]) == 4
    assert found.skipped == {"symlink leaving data.root": 1, "symlinked folder (not followed)": 1}


@pytest.mark.parametrize("breakage, message", [
    ("missing root", "data.root: {root} does not exist or is not a folder"),
    ("no train", "data.root: {root} has no train/ folder"),
    ("zero-byte", "{root}/train/a/img1.png: empty file (0 bytes)"),
    ("unreadable", "{root}/test/b/img0.png: not a readable image"),
    ("truncated", "{root}/train/b/img0.png: not a readable image"),
    ("one image", "{root}/train/b: 1 image(s); every class needs at least 2"),
    ("unknown test class", "{root}/test/c: class absent from {root}/train"),
])
def test_bad_input_is_one_line_naming_it_and_writes_nothing(tmp_path, breakage, message):
    root = make_tree(tmp_path / "ds", {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}}, size=(30, 30))
    if breakage == "missing root":
        root = tmp_path / "nowhere"
    elif breakage == "no train":
        (root / "train").rename(root / "training")
    elif breakage == "zero-byte":
        (root / "train/a/img1.png").write_bytes(b"")
    elif breakage == "unreadable":
        (root / "test/b/img0.png").write_bytes(b"GIF89a garbage")
    elif breakage == "truncated":
        data = (root / "train/b/img0.png").read_bytes()
        (root / "train/b/img0.png").write_bytes(data[:-30])
    elif breakage == "one image":
        (root / "train/b/img1.png").unlink()
    elif breakage == "unknown test class":
        make_tree(root, {"test": {"c": 1}})
    out = tmp_path / "raw"
    with pytest.raises(DatasetError) as exc:
        ingest(root, out, 28)
    assert str(exc.value) == message.format(root=root) or str(exc.value).startswith(message.format(root=root))
    assert "\n" not in str(exc.value)
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".raw")] == []


def test_sizes_are_checked_by_the_check_stage_before_any_image_is_read(tmp_path):
    from siamese_mnist.checks import check_params

    root = make_tree(tmp_path / "ds", {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}})
    (root / "train/a/img0.png").write_bytes(b"not a png")  # would fail if it were read
    p = params_from_dict({"data": {"dataset": "folder", "root": str(root), "val_size": 0.5, "holdout_classes": [2]}})
    with pytest.raises(ParamsError, match=r"data.holdout_classes: class 2 is out of range; allowed 0..1"):
        check_params(p)


def test_a_val_size_too_large_for_the_folder_says_how_to_fix_it(tmp_path):
    root = make_tree(tmp_path / "ds", {"train": {"a": 3, "b": 3}, "test": {"a": 1, "b": 1}})
    from siamese_mnist.checks import check_params

    p = params_from_dict({"data": {"dataset": "folder", "root": str(root), "val_size": 5000}})  # fitted to MNIST
    with pytest.raises(ParamsError, match=r"data.val_size: 5000 is out of range for 6 training images; "
                                          r"allowed 4..2 \(two images per class.*\), or a fraction such as 0.2"):
        check_params(p)
    ok = params_from_dict({"data": {"dataset": "folder", "val_size": 0.2}})
    ok.data.validate_for(6, 2, 2)  # fit_samples (10 000) is capped at the folder's size, not refused


def test_params_of_a_folder_dataset():
    p = params_from_dict({"data": {"dataset": "folder", "root": "/x", "image_size": 105, "val_size": 0.2}})
    assert p.data.val_size == 0.2 and p.data.image_size == 105
    assert params_from_dict({"data": {"val_size": 5000}}).data.val_size == 5000  # an int stays an int
    with pytest.raises(ParamsError, match="data.image_size: 32 applies to data.dataset: folder only"):
        params_from_dict({"data": {"image_size": 32}})
    with pytest.raises(ParamsError, match=r"data.val_size: 1.5 is out of range; a fraction must lie in \(0, 1\)"):
        params_from_dict({"data": {"dataset": "folder", "val_size": 1.5}})
    with pytest.raises(ParamsError, match="data.image_size: 8 is out of range; allowed 16..256"):
        params_from_dict({"data": {"dataset": "folder", "image_size": 8}})


def test_a_val_fraction_that_empties_a_class_is_refused(tmp_path):
    root = make_tree(tmp_path / "ds", {"train": {"a": 2, "b": 8}, "test": {"a": 1, "b": 1}})
    ingest(root, tmp_path / "raw", 6)
    with pytest.raises(DatasetError, match="data.val_size: 0.5 leaves class 0 fewer than 2 training images"):
        load_splits(tmp_path / "raw", None, None, 0.5, seed=0)


def test_skipped_files_are_counted_in_the_log(tmp_path, caplog):
    root = make_tree(tmp_path / "ds", {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}})
    for name in ("Thumbs.db", "labels.csv"):
        (root / "train/a" / name).write_text("x")
    with caplog.at_level(logging.INFO):
        ingest(root, tmp_path / "raw", 6)
    assert "skipped 2 file(s): not an image file" in caplog.text
    assert json.loads((tmp_path / "raw/classes.json").read_text()) == ["a", "b"]


def test_only_regular_files_are_read_the_rest_skipped_and_counted(tmp_path):
    """A FIFO would block the read forever and a device would never end: scan skips them, and broken links."""
    root = make_tree(tmp_path / "ds", {"train": {"a": 2, "b": 2}, "test": {"a": 2, "b": 2}})
    os.mkfifo(root / "train/a/pipe.png")
    (root / "train/b/dangling.png").symlink_to(root / "train/b/gone.png")
    (root / "test/a/fifo-link.png").symlink_to(root / "train/a/pipe.png")
    found = scan(root)
    assert len(found.files["train"]) == 4 and len(found.files["test"]) == 4
    assert found.skipped == {"not a regular file (FIFO, device, socket or broken link)": 3}


def test_a_decompression_bomb_is_refused_by_name_with_the_pixel_limit():
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")  # 50 KB of PNG, 400 megapixels decoded
    with pytest.raises(DatasetError, match=r"^big.png: 400000000 pixels, over the limit of 89478485 "
                                           r"\(PIL.Image.MAX_IMAGE_PIXELS\); refused as a possible decompression bomb"):
        prepare_image(buf.getvalue(), 28, "big.png")
    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buf, format="PNG")  # 100 megapixels: Pillow would only warn
    with pytest.raises(DatasetError, match=r"^big.png: 100000000 pixels, over the limit"):
        prepare_image(buf.getvalue(), 28, "big.png")


def test_a_long_strip_whose_square_would_pass_the_pixel_limit_is_refused_before_padding():
    # 1 x 80 000: 80 000 pixels pass Pillow's limit, the 80 000 x 80 000 square it pads to (6.4 gigapixels, 6 GB of
    # uint8) would not; 9 000 x 1 pads to 81 megapixels, under the limit, and is prepared as before
    buf = io.BytesIO()
    Image.new("L", (80_000, 1)).save(buf, format="PNG")
    with pytest.raises(DatasetError, match=r"^strip.png: 80000x1 pads to a 80000x80000 square, over the limit of "
                                           r"89478485 pixels \(PIL.Image.MAX_IMAGE_PIXELS\); refused$"):
        prepare_image(buf.getvalue(), 28, "strip.png")
    buf = io.BytesIO()
    Image.new("L", (9_000, 1), 255).save(buf, format="PNG")
    assert prepare_image(buf.getvalue(), 28, "ok.png").shape == (28, 28)


@pytest.mark.parametrize("where", ["class folder", "file"])
def test_a_name_that_is_not_utf8_is_refused_by_the_check_with_its_bytes_shown(tmp_path, where):
    from siamese_mnist.checks import check_params

    root = make_tree(tmp_path / "ds", {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}})
    bad = os.fsdecode(b"caf\xe9")  # Latin-1 bytes: the file system holds them, UTF-8 cannot say them
    if where == "class folder":
        (root / "train/b").rename(root / "train" / bad)
        (root / "test/b").rename(root / "test" / bad)
        named = f"{root}/train/caf\\xe9"
    else:
        (root / "train/a/img1.png").rename(root / "train/a" / (bad + ".png"))
        named = f"{root}/train/a/caf\\xe9.png"
    p = params_from_dict({"data": {"dataset": "folder", "root": str(root), "val_size": 0.5, "image_size": 16}})
    with pytest.raises(DatasetError) as exc:
        check_params(p)
    assert str(exc.value) == f"{named}: the name is not UTF-8; rename it (manifest.csv and classes.json record " \
                             "names as UTF-8)"
    str(exc.value).encode("utf-8")  # printable: the message itself holds no lone surrogate


def test_an_image_only_decoding_reveals_as_corrupt_is_refused_by_the_check(tmp_path):
    from siamese_mnist.checks import check_params

    root = make_tree(tmp_path / "ds", {"train": {"a": 4, "b": 4}, "test": {"a": 2, "b": 2}})
    good = (root / "test/b/img0.png").read_bytes()
    (root / "test/b/img0.png").write_bytes(good[:40])  # a valid signature and header, the pixels cut off
    p = params_from_dict({"data": {"dataset": "folder", "root": str(root), "val_size": 0.5, "image_size": 16},
                          "evaluate": {"knn_k": 1}})
    with pytest.raises(DatasetError, match=rf"^{root}/test/b/img0.png: not a readable image \("):
        check_params(p)
    (root / "test/b/img0.png").write_bytes(good)
    check_params(p)  # and a whole one passes
