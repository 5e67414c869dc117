"""Fetch, verify and load the MNIST-format IDX files.

Every file is checked on its *uncompressed* bytes (size, IDX header, sha256), because
mirrors recompress the ``.gz`` files and so their own bytes differ.

Hand-written, not ``torchvision.datasets.MNIST``: that pins the md5 of the ``.gz`` files (which mirrors
change), mixes mirrors file by file, reads no folder mirror, inflates whole files in memory and lets an HTML
page or a bad gzip through as a traceback; here one source gives all four files, verified, or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .config import ParamsError
from .io import atomic_folder

log = logging.getLogger(__name__)

MIRROR_ENV = "MNIST_MIRROR"
OFFLINE_ENV = "MNIST_OFFLINE"  # "1": use $MNIST_MIRROR only, never the public mirrors


@dataclass(frozen=True)
class IdxFile:
    name: str  # uncompressed file name; the source holds name + ".gz"
    size: int
    sha256: str
    shape: tuple[int, ...]  # expected IDX dimensions


def _files(sha: dict[str, str]) -> dict[str, IdxFile]:
    shapes = {
        "train-images-idx3-ubyte": (60000, 28, 28),
        "train-labels-idx1-ubyte": (60000,),
        "t10k-images-idx3-ubyte": (10000, 28, 28),
        "t10k-labels-idx1-ubyte": (10000,),
    }
    return {n: IdxFile(n, 4 * (len(s) + 1) + int(np.prod(s)), sha[n], s) for n, s in shapes.items()}


DATASETS: dict[str, dict] = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
        "classes": [str(i) for i in range(10)],
        "class_counts": {"train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
                         "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]},
        "files": _files({
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        }),
    },
    "fashion-mnist": {
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        "class_counts": {"train": [6000] * 10, "test": [1000] * 10},
        "files": _files({
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        }),
    },
}


class DataError(RuntimeError):
    """A source or file that cannot be used; the message says which and why."""


class DatasetError(DataError):
    """Bad user input (a folder dataset's file or layout, a split size): one line naming it, exit 2."""


def class_names(dataset: str) -> list[str]:
    return list(DATASETS[dataset]["classes"])


def load_class_names(raw_dir: str | Path, dataset: str) -> list[str]:
    """The class names, in label order: a folder dataset's from its ingested ``classes.json``."""
    if dataset != "folder":
        return class_names(dataset)
    path = Path(raw_dir) / "classes.json"
    try:
        return list(json.loads(path.read_text()))
    except FileNotFoundError:
        raise DataError(f"{path}: missing; run the download stage (which ingests data.root) first") from None


def idx_bytes(arr: np.ndarray) -> bytes:
    """uint8 array -> IDX bytes (the inverse of :func:`parse_idx`)."""
    header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def parse_idx(raw: bytes) -> np.ndarray:
    """IDX bytes -> uint8 array of the shape the header declares.

    Header: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
    then one big-endian uint32 per dimension.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError("not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise DataError(f"IDX type code 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("IDX header is truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"IDX body has {len(raw) - header} bytes, header declares {expected - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def verify(raw: bytes, spec: IdxFile) -> None:
    """Check uncompressed bytes against the pinned size, IDX header and sha256."""
    if len(raw) != spec.size:
        raise DataError(f"{spec.name}: {len(raw)} bytes, expected {spec.size}")
    arr = parse_idx(raw)
    if arr.shape != spec.shape:
        raise DataError(f"{spec.name}: IDX shape {arr.shape}, expected {spec.shape}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise DataError(f"{spec.name}: sha256 {digest[:12]}… does not match pinned {spec.sha256[:12]}…")


_CHUNK = 1 << 16  # bytes per read
_DEADLINE_READS = 20  # by default, one file may take this many per-read timeouts in all


def _gzip_cap(size: int) -> int:
    """The most bytes a gzip of ``size`` bytes may take: deflate stores what it cannot shrink with 5 bytes of
    overhead per 64 KiB block; 1 % and 64 KiB more leave room for headers, several members and zero padding."""
    return size + size // 100 + (1 << 16)


def gunzip(blob: bytes | Iterable[bytes], name: str, limit: int | None = None) -> bytes:
    """Inflate gzip data, whole or as chunks; accepts what ``gzip.decompress`` does (several members, zero padding
    after one).

    With ``limit``, refuses as soon as the output passes ``limit`` bytes: a gzip bomb costs at most
    ``limit`` + 1 bytes of output, however far it would inflate.
    """
    out: list[bytes] = []
    size, head = 0, b""
    member, started = None, False  # member: the inflater of the member being read, None between members
    try:
        for data in [blob] if isinstance(blob, (bytes, bytearray)) else blob:
            head += data[: 64 - len(head)]  # what the HTML hint looks at
            while data:
                if member is None:
                    if started and not (data := data.lstrip(b"\0")):  # zero padding, skipped as gzip.decompress does
                        break
                    member, started = zlib.decompressobj(16 + zlib.MAX_WBITS), True
                piece = member.decompress(data, 0 if limit is None else limit + 1 - size)  # 0: no limit
                size += len(piece)
                if limit is not None and size > limit:
                    stem = name.rsplit("/", 1)[-1].removesuffix(".gz")
                    raise DataError(f"{name}: inflates past {limit} bytes, the size of {stem}; refused")
                out.append(piece)
                data, member = (member.unused_data, None) if member.eof else (member.unconsumed_tail, member)
        if member is not None:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
    except (EOFError, zlib.error) as exc:
        hint = " (looks like an HTML page)" if head.lstrip()[:1] == b"<" else ""
        raise DataError(f"{name}: not a valid gzip file{hint}: {exc}") from None
    return b"".join(out)


def _read_source(where: str, timeout: float, cap: int, deadline: float) -> Iterator[bytes]:
    """The bytes at ``where`` (a file, or an http(s) URL), in chunks as they arrive.

    ``timeout`` bounds each HTTP read; past ``cap`` bytes or ``deadline`` seconds in all, DataError: an endless
    response or a server that drips bytes stops there, with nothing of it held.
    """
    end = time.monotonic() + deadline

    def capped(read: Callable[[], bytes]) -> Iterator[bytes]:
        seen = 0
        while chunk := read():
            seen += len(chunk)
            if seen > cap:
                raise DataError(f"{where}: more than {cap} bytes, the cap for this file; refused")
            if time.monotonic() > end:
                raise DataError(f"{where}: took longer than {deadline:g} s; refused")
            yield chunk

    if not where.startswith(("http://", "https://")):
        try:
            with open(where, "rb") as f:
                yield from capped(lambda: f.read(_CHUNK))
        except OSError as exc:
            raise DataError(f"{where}: {exc.strerror or exc}") from None
        return
    try:
        with urllib.request.urlopen(where, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=where.rsplit("/", 1)[-1], leave=False) as bar:
                for chunk in capped(lambda: resp.read1(_CHUNK)):  # read1: what has arrived, so the clock is read
                    bar.update(len(chunk))
                    yield chunk
    except urllib.error.HTTPError as exc:
        raise DataError(f"{where}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"{where}: {reason}") from None


def sources_for(dataset: str, env: dict[str, str] | None = None) -> list[str]:
    """The mirror from ``$MNIST_MIRROR`` (if set) first, then the public mirrors unless ``$MNIST_OFFLINE=1``."""
    env = os.environ if env is None else env
    extra = [env[MIRROR_ENV]] if env.get(MIRROR_ENV) else []
    public = [] if env.get(OFFLINE_ENV, "") == "1" else list(DATASETS[dataset]["mirrors"])
    if not extra + public:
        raise DataError(f"{OFFLINE_ENV}=1 but {MIRROR_ENV} is not set: no source to download from")
    return extra + public


def fetch_from(source: str, dataset: str, timeout: float = 30.0, deadline: float | None = None) -> dict[str, bytes]:
    """All four verified, uncompressed files from one source (a folder or an http(s) base URL), or DataError.

    ``timeout`` bounds each HTTP read; ``deadline`` (default 20 × ``timeout``) each file's download in all.
    Memory stays bounded whatever the source serves: a file is refused once its gzip passes its cap
    (:func:`_gzip_cap`) or its output passes the file's pinned size.
    """
    deadline = _DEADLINE_READS * timeout if deadline is None else deadline
    remote = source.startswith(("http://", "https://"))
    files = {}
    for spec in DATASETS[dataset]["files"].values():
        where = source.rstrip("/") + "/" + spec.name + ".gz" if remote else str(Path(source) / (spec.name + ".gz"))
        with contextlib.closing(_read_source(where, timeout, _gzip_cap(spec.size), deadline)) as chunks:
            raw = gunzip(chunks, where, spec.size)
        verify(raw, spec)
        files[spec.name] = raw
    return files


def download(dataset: str, out_dir: str | Path, sources: list[str], timeout: float = 30.0,
             deadline: float | None = None) -> None:
    """Fill ``out_dir`` with the verified IDX files of ``dataset`` from the first source that works.

    The folder appears whole (built beside it, then renamed) or not at all. ``timeout``: seconds per HTTP read;
    ``deadline``: seconds per file in all (default 20 × ``timeout``), so that a server dripping bytes is given up.
    """
    out_dir = Path(out_dir)
    failures = []
    for source in sources:
        log.info("trying %s", source)
        try:
            files = fetch_from(source, dataset, timeout, deadline)
        except DataError as exc:
            log.warning("source failed: %s", exc)
            failures.append(f"{source}: {exc}")
            continue
        with atomic_folder(out_dir) as tmp:
            for name, raw in files.items():
                (tmp / name).write_bytes(raw)
        log.info("%s verified from %s", dataset, source)
        return
    raise DataError(f"could not download {dataset}; every source failed:\n  " + "\n  ".join(failures))


SPLIT_PREFIX = {"train": "train", "val": "val", "test": "t10k"}  # val: folder datasets with a val/ folder only


def has_split(raw_dir: str | Path, split: str) -> bool:
    return (Path(raw_dir) / f"{SPLIT_PREFIX[split]}-labels-idx1-ubyte").is_file()


def load_split(raw_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, S, S) uint8 images (S = 28 for MNIST) and (N,) uint8 labels of ``train``, ``val`` or ``test``."""
    prefix = SPLIT_PREFIX[split]
    raw_dir = Path(raw_dir)
    try:
        images = parse_idx((raw_dir / f"{prefix}-images-idx3-ubyte").read_bytes())
        labels = parse_idx((raw_dir / f"{prefix}-labels-idx1-ubyte").read_bytes())
    except FileNotFoundError as exc:
        raise DataError(f"{exc.filename}: missing; run the download stage first") from None
    return images, labels


def stratified_subset(labels: np.ndarray, limit: int | None, seed: int, stream: int = 1) -> np.ndarray:
    """Sorted indices of a class-stratified random subset of ``limit`` items (all if None).

    Each class gets ``limit`` × its share, rounded by largest remainder, so the counts add up exactly.
    ``stream`` separates independent draws made with the same seed.
    """
    n = len(labels)
    if limit is None or limit >= n:
        return np.arange(n)
    rng = np.random.default_rng([seed, stream])
    classes, counts = np.unique(labels, return_counts=True)
    take = stratified_counts(counts, limit)
    picked = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def stratified_counts(counts: np.ndarray, limit: int | None) -> np.ndarray:
    """(K,) images per class that :func:`stratified_subset` takes from classes of ``counts`` images: each
    ``limit`` × its share, rounded by largest remainder (the seed only picks which images)."""
    counts = np.asarray(counts)
    n = int(counts.sum())
    if limit is None or limit >= n:
        return counts.copy()
    quota = counts * limit / n
    take = np.floor(quota).astype(int)
    short = limit - take.sum()
    take[np.argsort(-(quota - take), kind="stable")[:short]] += 1
    return take


def load_subset(raw_dir: str | Path, split: str, limit: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The split, reduced to the seeded stratified subset that every stage agrees on."""
    images, labels = load_split(raw_dir, split)
    idx = stratified_subset(labels, limit, seed + (0 if split == "train" else 1))
    return images[idx], labels[idx]


VAL_STREAM = 3  # rng stream of the validation split (1 = subsets, 2 = one-shot episodes)


@dataclass(frozen=True)
class Splits:
    """The three disjoint splits every stage agrees on, as (N, 28, 28) uint8 images and (N,) uint8 labels.

    ``train`` is what models may learn from (the index files index it), ``val`` is carved from the
    official training split and chooses everything that is chosen, ``test`` is only ever reported.
    """

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


def split_validation(labels: np.ndarray, val_size: int | float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, val) indices: a seeded, class-stratified ``val_size`` items (a count, or a
    fraction of ``labels``) become validation; every class keeps at least 2 training images."""
    count = round(val_size * len(labels)) if isinstance(val_size, float) else val_size
    if count >= len(labels):
        raise DatasetError(f"data.val_size: {val_size} leaves no training images out of {len(labels)}")
    val = stratified_subset(labels, count, seed, stream=VAL_STREAM)
    keep = np.ones(len(labels), bool)
    keep[val] = False
    classes, left = np.unique(labels[keep], return_counts=True)
    short = np.setdiff1d(np.unique(labels), classes[left >= 2])
    if len(short):
        raise DatasetError(f"data.val_size: {val_size} leaves class {int(short[0])} fewer than 2 training images")
    return np.flatnonzero(keep), val


def load_train_val(raw_dir: str | Path, train_limit: int | None, val_size: int | float, seed: int):
    """((images, labels) of training, (images, labels) of validation). Validation is carved from the
    training split, unless the dataset brings its own (a folder dataset's ``val/``)."""
    images, labels = load_subset(raw_dir, "train", train_limit, seed)
    if has_split(raw_dir, "val"):
        return (images, labels), load_split(raw_dir, "val")
    tr, va = split_validation(labels, val_size, seed)
    return (images[tr], labels[tr]), (images[va], labels[va])


def load_splits(raw_dir: str | Path, train_limit: int | None, test_limit: int | None, val_size: int | float,
                seed: int) -> Splits:
    """Train (minus validation), validation and test, from the downloaded files and the data params."""
    return Splits(*load_train_val(raw_dir, train_limit, val_size, seed), load_subset(raw_dir, "test", test_limit, seed))


def check_dataset(raw_dir: str | Path, cfg) -> None:
    """The data params' range checks that need a folder dataset's sizes (``cfg``: DataConfig)."""
    if cfg.dataset != "folder":
        return
    train, test = load_split(raw_dir, "train")[1], load_split(raw_dir, "test")[1]
    try:
        cfg.validate_for(len(train), len(test), len(load_class_names(raw_dir, cfg.dataset)))
    except ParamsError as exc:
        raise DatasetError(str(exc)) from None


def background_level(images: np.ndarray) -> int:
    """The median of every image's border pixels, (N, S, S) uint8 -> 0..255: what augmentation shifts
    in (0 for MNIST's white-on-black digits, near 255 for dark drawings on white paper)."""
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=None)
    return int(np.median(border))


def training_pool(labels: np.ndarray, holdout_classes: tuple[int, ...] | list[int] = ()) -> np.ndarray:
    """Indices of the training images any model may learn from: every class but the held-out ones."""
    return np.flatnonzero(~np.isin(labels, np.asarray(holdout_classes, dtype=labels.dtype)))
