"""Train, validation and test as every stage after the download draws them, from the raw IDX files.

Each draw is seeded and class-stratified, so every stage (and the check stage's counts) agrees on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, DatasetError
from .catalog import DATASETS, class_names
from .idx import parse_idx, split_files


def load_class_names(raw_dir: str | Path, dataset: str) -> list[str]:
    """The class names, in label order: a folder dataset's (and Omniglot's training characters') from the
    ingested ``classes.json``."""
    if dataset in DATASETS:
        return class_names(dataset)
    path = Path(raw_dir) / "classes.json"
    try:
        return list(json.loads(path.read_text()))
    except FileNotFoundError:
        raise DataError(f"{path}: missing; run the download stage (which ingests data.root) first") from None


def has_split(raw_dir: str | Path, split: str) -> bool:
    return split_files(raw_dir, split)[1].is_file()


def load_split(raw_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, S, S) uint8 images (S = 28 for MNIST) and (N,) uint8 labels of ``train``, ``val`` or ``test``."""
    images_path, labels_path = split_files(raw_dir, split)
    try:
        images = parse_idx(images_path.read_bytes())
        labels = parse_idx(labels_path.read_bytes())
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


def background_level(images: np.ndarray) -> int:
    """The median of every image's border pixels, (N, S, S) uint8 -> 0..255: what augmentation shifts
    in (0 for MNIST's white-on-black digits, near 255 for dark drawings on white paper)."""
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=None)
    return int(np.median(border))


def training_pool(labels: np.ndarray, holdout_classes: tuple[int, ...] | list[int] = ()) -> np.ndarray:
    """Indices of the training images any model may learn from: every class but the held-out ones."""
    return np.flatnonzero(~np.isin(labels, np.asarray(holdout_classes, dtype=labels.dtype)))
