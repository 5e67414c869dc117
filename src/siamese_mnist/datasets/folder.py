"""Your own images: ingest an ``ImageFolder``-style tree into the arrays the rest of the pipeline reads.

Layout (torchvision's ``ImageFolder``, one folder per class, class names sorted)::

    <root>/train/<class name>/*.png|jpg|…   required; every class needs at least 2 images
    <root>/test/<class name>/*              required; only classes that train/ has
    <root>/val/<class name>/*               optional; without it validation is carved from train/

Every image is read with Pillow, converted to 8-bit grayscale (16-bit levels scaled, transparent
pixels composited on black), padded to a square with the median of its border pixels (so the aspect
ratio is kept and the padding matches the background) and resized to ``image_size``. The result is
the same IDX files the MNIST download writes (``train-``, ``t10k-`` and ``val-images/labels``), plus
``classes.json`` and ``manifest.csv`` (split, relative path, class, sha256 of the file's bytes).
Files without an image extension, and anything but regular files (FIFOs, devices), are skipped and
counted; symlinks that lead outside ``root`` are not followed; images over Pillow's pixel limit are refused. (Not ``torchvision.datasets.ImageFolder``'s scan: it follows every symlinked folder,
counts nothing it skips and meets a bad image only at training time, one sample at a time.)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import stat
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..atomic import atomic_folder
from ..errors import DatasetError
from .idx import idx_bytes, split_files

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp")
MAX_CLASSES = 255  # labels are stored as uint8
MAX_FILE_BYTES = 256 * 2**20  # past any photo's size: a bigger file is refused before it is read


@dataclass
class Scan:
    """What a walk over ``root`` found: per split, (relative path, class index) of every image."""

    classes: list[str]
    files: dict[str, list[tuple[str, int]]]
    skipped: Counter = field(default_factory=Counter)  # reason -> count


FOLDER_SPLITS = ("train", "val", "test")  # a folder dataset's splits (val optional)


def gray_pixels(im) -> np.ndarray:
    """Any Pillow image -> (H, W) uint8: 16-bit levels scaled to 8 bits (convert("L") would clip them at 255)."""
    if im.mode == "I" or im.mode.startswith("I;16"):  # "I" is how Pillow opens 16-bit PGM/PPM and 32-bit TIFF
        return np.rint(np.asarray(im, dtype=np.float64).clip(0, 65535) * 255 / 65535).astype(np.uint8)
    if "A" in im.getbands():
        # Composited on black: transparent means "no ink", the background of MNIST's white-on-black digits.
        rgba = im.convert("RGBA")
        gray, alpha = np.asarray(rgba.convert("L"), np.float64), np.asarray(rgba.getchannel("A"), np.float64)
        return np.rint(gray * alpha / 255).astype(np.uint8)
    return np.asarray(im.convert("L"))


def prepare_image(data: bytes, size: int, name: str, drawing: bool = False) -> np.ndarray:
    """Image file bytes -> (size, size) uint8 grayscale: padded square with its border median, resized (Lanczos).
    ``drawing``: as Omniglot's are prepared (``omniglot_splits.ink_square``) — dark ink on light paper inverted
    to bright ink on black first, then shrunk by the box filter."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise DatasetError(f"{name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # Pillow only warns below 2x its limit
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                pixels = gray_pixels(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        pixels = str(exc).split("(")[1].split(" ")[0] if "(" in str(exc) else "too many"
        raise DatasetError(f"{name}: {pixels} pixels, over the limit of {Image.MAX_IMAGE_PIXELS} "
                           f"(PIL.Image.MAX_IMAGE_PIXELS); refused as a possible decompression bomb") from None
    except UnidentifiedImageError:  # its message names an io.BytesIO object, not the file
        raise DatasetError(f"{name}: not a readable image (no format Pillow knows)") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{name}: not a readable image ({exc})") from None
    h, w = pixels.shape
    if drawing and np.median(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])) > 127:
        pixels = 255 - pixels
    gray = Image.fromarray(pixels)
    if h != w:
        side = max(h, w)
        if side * side > Image.MAX_IMAGE_PIXELS:  # a 1 x 80 000 strip passes the pixel limit, its square would not
            raise DatasetError(f"{name}: {w}x{h} pads to a {side}x{side} square, over the limit of "
                               f"{Image.MAX_IMAGE_PIXELS} pixels (PIL.Image.MAX_IMAGE_PIXELS); refused")
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        square = np.full((side, side), int(np.median(border)), dtype=np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        square[top:top + h, left:left + w] = pixels
        gray = Image.fromarray(square)
    if gray.size != (size, size):
        gray = gray.resize((size, size), Image.Resampling.BOX if drawing else Image.Resampling.LANCZOS)
    return np.asarray(gray, dtype=np.uint8)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:  # a broken link
        return False


def class_files(class_dir: Path, root: Path, skipped: Counter) -> list[Path]:
    """Image files below one class folder (recursively, sorted), without following links out of ``root``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(class_dir):  # does not descend into symlinked folders
        dirnames.sort()
        for d in dirnames:
            if (Path(dirpath) / d).is_symlink():
                skipped["symlinked folder (not followed)"] += 1
        for f in sorted(filenames):
            path = Path(dirpath) / f
            if path.is_symlink() and not _inside(path, root):
                skipped["symlink leaving data.root"] += 1
            elif f.startswith("."):
                skipped["hidden file"] += 1
            elif path.suffix.lower() not in IMAGE_EXTENSIONS:
                skipped["not an image file"] += 1
            elif not _is_regular(path):  # a FIFO would block the read forever, a device would never end
                skipped["not a regular file (FIFO, device, socket or broken link)"] += 1
            elif path.stat().st_size == 0:
                raise DatasetError(f"{shown(path)}: empty file (0 bytes)")
            elif path.stat().st_size > MAX_FILE_BYTES:
                raise DatasetError(f"{shown(path)}: {path.stat().st_size} bytes, over the limit of {MAX_FILE_BYTES} "
                                   "for an image file")
            else:
                utf8_name(path)
                found.append(path)
    return found


def shown(path: Path) -> str:
    """A path as one printable line, whatever bytes its name holds (a name that is not UTF-8: as \\x escapes)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def utf8_name(path: Path) -> None:
    """Refuse a name that is not UTF-8: manifest.csv, classes.json and DVC record names as UTF-8 text."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise DatasetError(f"{shown(path)}: the name is not UTF-8; rename it (manifest.csv and classes.json "
                           "record names as UTF-8)") from None


def read_image_file(path: Path) -> bytes:
    """A file's bytes, never more than :data:`MAX_FILE_BYTES` (it may have grown since the scan)."""
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise DatasetError(f"{shown(path)}: over the limit of {MAX_FILE_BYTES} bytes for an image file")
    return data


def decode_all(root: str | Path, found: Scan, image_size: int, desc: str):
    """Yield (split, row, file bytes, prepared image) for every image ``found`` lists, with a progress bar."""
    root = Path(root)
    total = sum(len(v) for v in found.files.values())
    with tqdm(total=total, desc=desc, unit="img", leave=False, disable=total < 500) as bar:
        for split, rows in found.files.items():
            for i, (rel, _) in enumerate(rows):
                data = read_image_file(root / rel)
                yield split, i, data, prepare_image(data, image_size, shown(root / rel))
                bar.update()


def scan(root: str | Path) -> Scan:
    """Find every image of ``root``'s splits; refuse a layout the pipeline cannot train on."""
    given = Path(root)
    if not given.is_dir():
        raise DatasetError(f"data.root: {given} does not exist or is not a folder")
    root = given.resolve()
    if not (root / "train").is_dir():
        raise DatasetError(f"data.root: {given} has no train/ folder (expected {given}/train/<class name>/<images>)")
    if not (root / "test").is_dir():
        raise DatasetError(f"data.root: {given} has no test/ folder (expected {given}/test/<class name>/<images>)")
    skipped: Counter = Counter()

    def class_dirs(split: str) -> dict[str, Path]:
        out = {}
        for d in sorted((root / split).iterdir()):
            if d.is_symlink() and not _inside(d, root):
                skipped["symlink leaving data.root"] += 1
            elif d.is_dir() and not d.name.startswith("."):
                utf8_name(d)
                out[d.name] = d
            else:
                skipped["file outside a class folder"] += 1
        return out

    train_dirs = class_dirs("train")
    classes = sorted(train_dirs)
    if len(classes) < 2:
        raise DatasetError(f"{given}/train: {len(classes)} class folder(s); at least 2 are needed")
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"{given}/train: {len(classes)} class folders; at most {MAX_CLASSES} are supported")
    index = {c: i for i, c in enumerate(classes)}
    files: dict[str, list[tuple[str, int]]] = {}
    for split in FOLDER_SPLITS:  # folder names are the split names
        if split == "val" and not (root / "val").is_dir():
            continue
        dirs = train_dirs if split == "train" else class_dirs(split)
        unknown = sorted(set(dirs) - set(index))
        if unknown:
            raise DatasetError(f"{given}/{split}/{unknown[0]}: class absent from {given}/train")
        rows = []
        for name, d in dirs.items():
            paths = class_files(d, root, skipped)
            if split == "train" and len(paths) < 2:
                raise DatasetError(f"{given}/train/{name}: {len(paths)} image(s); every class needs at least 2")
            rows.extend((p.relative_to(root).as_posix(), index[name]) for p in paths)
        if not rows:
            raise DatasetError(f"{given}/{split}: no images")
        files[split] = rows
    return Scan(classes, files, skipped)


def ingest(root: str | Path, out_dir: str | Path, image_size: int) -> Scan:
    """Read, check and convert every image of ``root`` into ``out_dir`` (which appears whole, or not at all).

    The data params' checks against the folder's sizes are the check stage's (``checks``), on the same scan.
    """
    found = scan(root)
    root, out_dir = Path(root), Path(out_dir)
    for reason, count in sorted(found.skipped.items()):
        log.info("skipped %d file(s): %s", count, reason)
    manifest = [("split", "path", "class", "sha256")]
    arrays = {split: (np.empty((len(rows), image_size, image_size), dtype=np.uint8),
                      np.array([label for _, label in rows], dtype=np.uint8)) for split, rows in found.files.items()}
    for split, i, data, image in decode_all(root, found, image_size, "ingest"):
        arrays[split][0][i] = image
        rel, label = found.files[split][i]
        manifest.append((split, rel, found.classes[label], hashlib.sha256(data).hexdigest()))
    with atomic_folder(out_dir) as tmp:
        for split, (images, labels) in arrays.items():
            for path, arr in zip(split_files(tmp, split), (images, labels)):
                path.write_bytes(idx_bytes(arr))
        (tmp / "classes.json").write_text(json.dumps(found.classes, indent=1, ensure_ascii=False) + "\n")
        with open(tmp / "manifest.csv", "w", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(manifest)
    log.info("ingested %s: %d classes, %s images of %dx%d", root, len(found.classes),
             ", ".join(f"{s} {len(r)}" for s, r in found.files.items()), image_size, image_size)
    return found

