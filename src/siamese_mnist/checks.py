"""Everything the `check` stage validates, in one place: each param's own range (``Params.validate``, run by
``load_params``), then what valid-looking params need of the data and of the machine, before anything runs: per-class counts after subsetting (a pair, a retrieval query and a one-shot episode need
two images of a class), k-NN's reference size, and the memory the index files, dumps and batches take.

The per-class counts follow ``datasets.splits.stratified_counts`` exactly (they depend on the class sizes, not on
the seed), so a param refused here is one that a later stage would have failed on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from .config import MODELS, Params
from .datasets.catalog import DATASETS, class_names
from .datasets.splits import stratified_counts
from .errors import ParamsError
from .models import MODEL_CLASSES, build_model
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
    ``datasets.splits.load_splits`` will draw them."""
    train = stratified_counts(counts.train, p.data.train_limit)
    if counts.val is None:
        val = stratified_counts(train, p.data.val_count(int(train.sum())))
        train = train - val
    else:
        val = counts.val
    return {"train": train, "val": val, "test": stratified_counts(counts.test, p.data.test_limit)}


def check_counts(p: Params, counts: ClassCounts, classes: list[str]) -> None:
    """Refuse splits with a class of one image, naming what made it so (the folder itself, or the param that
    cut it), a k-NN k above its reference size and a silhouette sample that cannot hold two of each class."""
    need = "every class needs at least 2 (pairs, retrieval and one-shot queries)"
    own = {"test": counts.test, "val": counts.val}
    for split, n in own.items():  # the folder itself is short, whatever the params
        if counts.where and n is not None and len(bad := np.flatnonzero(n == 1)):
            raise ParamsError(f"{counts.where}/{split}/{classes[bad[0]]}: 1 image(s); {need}")
    train = stratified_counts(counts.train, p.data.train_limit)
    splits = split_counts(p, counts)
    cuts = [("train_limit", "train", train, train > 0), ("val_size", "train", splits["train"], train > 0),
            ("val_size", "val", splits["val"], splits["val"] > 0), ("test_limit", "test", splits["test"],
                                                                      splits["test"] > 0)]
    for key, split, n, present in cuts:
        if len(bad := np.flatnonzero(present & (n < 2))):
            value = getattr(p.data, key)
            raise ParamsError(f"data.{key}: {value} gives class {classes[bad[0]]} only {n[bad[0]]} {split} "
                              f"image(s); {need}{_hint(p, counts, key)}")
    fit = min(p.data.fit_samples, int(splits["train"].sum()))
    if p.evaluate.knn_k > fit:
        raise ParamsError(f"evaluate.knn_k: {p.evaluate.knn_k} is out of range; allowed 1..{fit} "
                          f"(the k-NN reference: data.fit_samples training images)")
    if p.evaluate.silhouette_samples < 2 * len(classes):  # a smaller sample can draw each class once
        raise ParamsError(f"evaluate.silhouette_samples: {p.evaluate.silhouette_samples} is out of range for "
                          f"{len(classes)} classes; allowed >= {2 * len(classes)}")


def _hint(p: Params, counts: ClassCounts, key: str) -> str:
    """'; e.g. 20' — the smallest value at or above the current one that leaves every class 2 images."""
    if key != "test_limit":
        return ""
    for limit in range(p.data.test_limit or 0, int(counts.test.sum()) + 1):
        if stratified_counts(counts.test, limit).min() >= 2:
            return f"; {limit} is enough"
    return ""


def physical_memory(cgroup_root: str = "/sys/fs/cgroup") -> int:
    """This machine's memory, capped by a cgroup memory limit (a container, CI), as ``available_cores`` caps cores."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("memory.max", "memory/memory.limit_in_bytes"):  # cgroup v2, v1 ("max" or a huge number)
        try:
            text = open(os.path.join(cgroup_root, limit_file)).read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
        break
    return total


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
        with torch.device("meta"):  # counts the weights without allocating them
            weights = sum(t.numel() for t in build_model(name, p.model, section, image_size,
                                                          len(splits["train"])).parameters())
        # weights, gradients and AdamW's two moments, float32 each
        needs.append((f"model.* ({weights:,} weights of {name}, with gradients and optimizer state)", 16 * weights))
    return needs


def check_memory(p: Params, splits: dict[str, np.ndarray], image_size: int, available: int | None = None) -> None:
    """Refuse params whose index files, dumps or batches would not fit in this machine's memory."""
    available = physical_memory() if available is None else available
    for what, need in memory_needs(p, splits, image_size):
        if need > available:
            raise ParamsError(f"{what} needs about {_size(need)} of memory; this machine has {_size(available)}")


def _size(n: float) -> str:
    """Bytes in decimal units, three figures: 8e13 -> '80 TB'."""
    n, units = float(min(n, 1e300)), ["B", "KB", "MB", "GB", "TB", "PB"]  # a 400-digit estimate has no float
    while n >= 1000 and len(units) > 1:
        n, units = n / 1000, units[1:]
    return f"{int(n)} B" if units[0] == "B" else f"{n:.3g} {units[0]}"


def check_lists(p: Params) -> None:
    """A list param names each entry once: a repeated epoch would draw the same grid row twice, a repeated C fit
    the same probe twice (their lengths are bounded where they are read, ``config.MAX_LIST``)."""
    for name, values in (("render.epochs", p.render.epochs), ("evaluate.logreg_c", p.evaluate.logreg_c)):
        seen = set()
        for v in values:
            if v in seen:
                raise ParamsError(f"{name}: {v} is listed twice; list each entry once")
            seen.add(v)


def check(p: Params, counts: ClassCounts, classes: list[str], image_size: int) -> None:
    """Everything above, for one params file and one dataset's class sizes."""
    check_lists(p)
    check_counts(p, counts, classes)
    check_memory(p, split_counts(p, counts), image_size)


def check_params(p: Params) -> None:
    """The check stage: ``p`` (already range-checked by ``load_params``) against its dataset's sizes — a folder
    dataset is scanned, names, counts and file kinds, and every image decoded — and against this machine's memory.
    Later stages re-check only their inputs (an index file's epochs, the epochs dumped), never these."""
    if p.data.dataset == "folder":
        from .datasets.folder import decode_all, scan

        found = scan(p.data.root)
        counts, classes = scanned_class_counts(found.files, len(found.classes), p.data.root), found.classes
        p.data.validate_for(int(counts.train.sum()), int(counts.test.sum()), len(classes))
    elif p.data.dataset == "omniglot":
        counts, classes = omniglot_class_counts(p)
    else:
        counts, classes = idx_class_counts(p.data.dataset), class_names(p.data.dataset)
    check(p, counts, classes, p.data.image_size)
    if p.data.dataset == "folder":  # last, as it is the slow part: every image decoded as the ingest will, so
        # nothing that passes here fails there, after DVC has removed data/raw
        for _ in decode_all(p.data.root, found, p.data.image_size, "check: decoding"):
            pass


def omniglot_class_counts(p: Params) -> tuple[ClassCounts, list[str]]:
    """Omniglot's splits as ``omniglot.background`` and ``val_alphabets`` cut them (20 drawings of every character)."""
    from .datasets.omniglot_splits import DRAWERS, split_characters

    try:
        n = split_characters(p.omniglot.background, p.omniglot.val_alphabets)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    names = [f"character {i}" for i in range(max(n.values()))]
    return ClassCounts(*(np.full(n[s], DRAWERS) for s in ("train", "test", "val"))), names
