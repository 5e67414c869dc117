"""What valid-looking params need of the data and of the machine, checked by the `check` stage before
anything runs: per-class counts after subsetting (a pair, a retrieval query and a one-shot episode need
two images of a class), k-NN's reference size, and the memory the index files, dumps and batches take.

The per-class counts follow ``data.stratified_counts`` exactly (they depend on the class sizes, not on
the seed), so a param refused here is one that a later stage would have failed on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .config import MODELS, Params, ParamsError
from .data import DATASETS, stratified_counts
from .models import MODEL_CLASSES
from .pairs import items_per_epoch


@dataclass(frozen=True)
class ClassCounts:
    """(K,) images per class of each split as the dataset holds it; val None = carved from train."""

    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None
    where: str = ""  # how to name a split's class in an error: "" (IDX) or the folder root


def idx_class_counts(dataset: str) -> ClassCounts:
    """The pinned class sizes of an IDX dataset (its files' sha256 are pinned too)."""
    counts = DATASETS[dataset]["class_counts"]
    return ClassCounts(np.array(counts["train"]), np.array(counts["test"]))


def scanned_class_counts(files: dict[str, list[tuple[str, int]]], num_classes: int, root: str) -> ClassCounts:
    """The class sizes of a scanned folder dataset (``folder.Scan.files``: split -> (path, class) rows)."""
    def per_class(split: str) -> np.ndarray:
        return np.bincount([c for _, c in files[split]], minlength=num_classes)
    return ClassCounts(per_class("train"), per_class("test"), per_class("val") if "val" in files else None, root)


def split_counts(p: Params, counts: ClassCounts) -> dict[str, np.ndarray]:
    """(K,) images per class of train (after validation is carved out), validation and test, as
    ``data.load_splits`` will draw them."""
    train = stratified_counts(counts.train, p.data.train_limit)
    if counts.val is None:
        val = stratified_counts(train, p.data.val_count(int(train.sum())))
        train = train - val
    else:
        val = counts.val
    return {"train": train, "val": val, "test": stratified_counts(counts.test, p.data.test_limit)}


def check_counts(p: Params, counts: ClassCounts, classes: list[str]) -> None:
    """Refuse splits with a class of one image, and a k-NN k above its reference size."""
    splits = split_counts(p, counts)
    for split, key in (("train", "val_size"), ("val", "val_size"), ("test", "test_limit")):
        n = splits[split]
        one = np.flatnonzero(n == 1) if split != "train" else np.flatnonzero(n < 2)
        if not len(one):
            continue
        name = classes[one[0]]
        limited = p.data.test_limit is not None if split == "test" else counts.val is None
        if not limited:  # the folder itself is short, whatever the params
            raise ParamsError(f"{counts.where}/{split}/{name}: {n[one[0]]} image(s); every class needs at least 2 "
                              f"(pairs, retrieval and one-shot queries)")
        value = getattr(p.data, key)
        raise ParamsError(f"data.{key}: {value} gives class {name} only {n[one[0]]} {split} image(s); every class "
                          f"needs at least 2 (pairs, retrieval and one-shot queries){_hint(p, counts, key)}")
    fit = min(p.data.fit_samples, int(splits["train"].sum()))
    if p.evaluate.knn_k > fit:
        raise ParamsError(f"evaluate.knn_k: {p.evaluate.knn_k} is out of range; allowed 1..{fit} "
                          f"(the k-NN reference: data.fit_samples training images)")


def _hint(p: Params, counts: ClassCounts, key: str) -> str:
    """'; e.g. 20' — the smallest value at or above the current one that leaves every class 2 images."""
    if key != "test_limit":
        return ""
    for limit in range(p.data.test_limit or 0, int(counts.test.sum()) + 1):
        if stratified_counts(counts.test, limit).min() >= 2:
            return f"; {limit} is enough"
    return ""


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_needs(p: Params, splits: dict[str, np.ndarray], image_size: int) -> list[tuple[str, float]]:
    """(what, bytes) of the largest allocations a run makes: each index file as the sample stage builds it,
    each model's per-epoch embedding dumps, one training step's activations, the one-shot episodes' supports."""
    n_train = int(splits["train"].sum())
    pool = int(sum(n for c, n in enumerate(splits["train"]) if c not in p.data.holdout_classes))
    dumped = min(p.data.fit_samples, n_train) + int(splits["val"].sum()) + int(splits["test"].sum())
    c1, c2 = p.model.conv_channels
    s1 = image_size - 4
    s2 = s1 // 2 - 4
    # Saved for backward, with their gradients: conv, batch-norm and pool outputs of both blocks, the hidden layer.
    per_image = 2 * 4 * (3 * c1 * s1 * s1 + 3 * c2 * s2 * s2 + 2 * p.model.hidden)
    needs = [(f"train.epochs + 1 = {p.train.epochs + 1:,} embedding dumps of {dumped:,} images",
              (p.train.epochs + 1) * dumped * p.model.embedding_dim * 4 * len(MODELS)),
             ("train.eval_batch_size images at once", p.train.eval_batch_size * per_image / 2),
             (f"evaluate.episodes one-shot supports ({p.evaluate.episodes:,} × {len(splits['test'])} classes)",
              8 * p.evaluate.episodes * len(splits["test"]))]
    for name in MODELS:
        section, k = p.section(name), MODEL_CLASSES[name].images_per_item
        per_epoch = getattr(section, "per_epoch", None)
        items = pool if name == "cnn" else items_per_epoch(per_epoch, pool, k)
        # int32 entries, the sampler's int64 gather and the stacked copy: ~5 x the file
        needs.append((f"train.epochs × {name} items ({p.train.epochs} × {items:,} of {k} image(s))",
                      5 * 4 * p.train.epochs * items * k))
        needs.append((f"{name}.batch_size items a step ({section.batch_size:,} × {k} image(s))",
                      section.batch_size * k * per_image))
    return needs


def check_memory(p: Params, splits: dict[str, np.ndarray], image_size: int, available: int | None = None) -> None:
    """Refuse params whose index files, dumps or batches would not fit in this machine's memory."""
    available = physical_memory() if available is None else available
    for what, need in memory_needs(p, splits, image_size):
        if need > available:
            raise ParamsError(f"{what} needs about {_size(need)} of memory; this machine has {_size(available)}")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    raise AssertionError


def check(p: Params, counts: ClassCounts, classes: list[str], image_size: int) -> None:
    """Everything above, for one params file and one dataset's class sizes."""
    check_counts(p, counts, classes)
    check_memory(p, split_counts(p, counts), image_size)
