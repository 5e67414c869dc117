"""Balanced, seeded index files: single images for the CNN, pairs for the Siamese network,
triplets for the triplet network.

Epoch ``e`` draws from ``np.random.default_rng([seed, e])`` alone, so its tuples do not depend
on how many epochs are generated: raising ``train.epochs`` keeps earlier epochs byte-identical.
Training tuples are drawn from a ``pool`` of allowed images (held-out classes removed) and
index the whole training split.
"""

from __future__ import annotations

import numpy as np

TEST_STREAM = 0  # rng stream id of the fixed test pairs; epochs use 1..E


def _class_table(labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """classes, members sorted by class, each class's start offset and its count; refuses what
    cannot form ``what`` (fewer than two classes, or a class of one image)."""
    order = np.argsort(labels, kind="stable")
    classes, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"{what} need at least two classes")
    if counts.min() < 2:
        raise ValueError(f"class {classes[counts.argmin()]} has fewer than 2 images; cannot form {what}")
    return classes, order, starts, counts


def _spread_classes(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) class positions: each of the k classes n // k times, and n % k random classes once more."""
    per_class = np.full(k, n // k)
    per_class[rng.permutation(k)[: n % k]] += 1
    return np.repeat(np.arange(k), per_class)


def _two_of_a_class(cls: np.ndarray, order, starts, counts, rng) -> tuple[np.ndarray, np.ndarray]:
    """For each class position, two different random members of that class."""
    cnt = counts[cls]
    a_off = (rng.random(len(cls)) * cnt).astype(np.int64)
    # A nonzero offset modulo the class size can never land on the first member itself.
    b_off = (a_off + 1 + (rng.random(len(cls)) * (cnt - 1)).astype(np.int64)) % cnt
    return order[starts[cls] + a_off], order[starts[cls] + b_off]


def _member_of_another_class(cls: np.ndarray, order, starts, counts, rng) -> np.ndarray:
    """For each class position, a random member of one of the other k - 1 classes, chosen uniformly."""
    other = (cls + rng.integers(1, len(counts), len(cls))) % len(counts)
    return order[starts[other] + (rng.random(len(cls)) * counts[other]).astype(np.int64)]


def draw_pairs(labels: np.ndarray, n_pairs: int, positive_fraction: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n_pairs, 2) int32 indices into ``labels`` and (n_pairs,) uint8 same-class flags.

    Exactly ``round(n_pairs * positive_fraction)`` pairs are positives and never pair an image with
    itself. Both kinds are class-balanced: the first images' classes are spread over the classes
    within ±1 of each other, so a rare class is not under-represented among the negatives either;
    a negative's second image is a random image of one of the other classes, chosen uniformly.
    """
    classes, order, starts, counts = _class_table(labels, "positive pairs")
    n_pos = int(round(n_pairs * positive_fraction))
    n_neg = n_pairs - n_pos
    pos = np.stack(_two_of_a_class(_spread_classes(len(classes), n_pos, rng), order, starts, counts, rng), axis=1)
    neg_cls = _spread_classes(len(classes), n_neg, rng)
    anchor = order[starts[neg_cls] + (rng.random(n_neg) * counts[neg_cls]).astype(np.int64)]
    partner = _member_of_another_class(neg_cls, order, starts, counts, rng)
    pairs = np.concatenate([pos, np.stack([anchor, partner], axis=1)]).astype(np.int32)
    same = np.concatenate([np.ones(n_pos, np.uint8), np.zeros(n_neg, np.uint8)])
    perm = rng.permutation(n_pairs)
    return pairs[perm], same[perm]


def draw_triplets(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) int32 (anchor, positive, negative) indices into ``labels``.

    Anchors are spread over the classes within ±1 of each other (so every batch is close to
    class-balanced); the positive is another image of the anchor's class, never the anchor
    itself; the negative is a random image of one of the other classes, chosen uniformly.
    """
    classes, order, starts, counts = _class_table(labels, "triplets")
    cls = _spread_classes(len(classes), n, rng)
    anchor, positive = _two_of_a_class(cls, order, starts, counts, rng)
    negative = _member_of_another_class(cls, order, starts, counts, rng)
    return np.stack([anchor, positive, negative], axis=1).astype(np.int32)[rng.permutation(n)]


def _pool(labels: np.ndarray, pool: np.ndarray | None) -> np.ndarray:
    return np.arange(len(labels)) if pool is None else np.asarray(pool)


def make_epoch_singles(labels: np.ndarray, epochs: int, seed: int,
                       pool: np.ndarray | None = None) -> np.ndarray:
    """(epochs, n, 1) int32: every image of ``pool`` once per epoch, in a fresh seeded order; row e-1 holds epoch e."""
    pool = _pool(labels, pool)
    return np.stack([np.random.default_rng([seed, e]).permutation(pool)
                     for e in range(1, epochs + 1)]).astype(np.int32)[:, :, None]


def items_per_epoch(per_epoch: int | float | None, pool_size: int, images_per_item: int) -> int:
    """How many items an epoch draws: ``per_epoch`` as a count (int), one per training image (None), or as
    images through the tower per training image (float: 2.0 = N pairs or round(2N / 3) triplets for N images),
    the rule that keeps the models' budgets in proportion at any data size."""
    if per_epoch is None:
        return pool_size
    if isinstance(per_epoch, float):
        return max(1, round(per_epoch * pool_size / images_per_item))
    return per_epoch


def make_epoch_pairs(labels: np.ndarray, epochs: int, per_epoch: int | float | None, positive_fraction: float,
                     seed: int, pool: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, P, 2) int32 pair indices and (epochs, P) uint8 flags; row e-1 holds epoch e.

    Only images in ``pool`` (default: all) appear; P = :func:`items_per_epoch` (default: the pool's size).
    """
    pool = _pool(labels, pool)
    per_epoch = items_per_epoch(per_epoch, len(pool), 2)
    drawn = [draw_pairs(labels[pool], per_epoch, positive_fraction, np.random.default_rng([seed, e]))
             for e in range(1, epochs + 1)]
    return pool[np.stack([p for p, _ in drawn])].astype(np.int32), np.stack([s for _, s in drawn])


def make_epoch_triplets(labels: np.ndarray, epochs: int, per_epoch: int | float | None, seed: int,
                        pool: np.ndarray | None = None) -> np.ndarray:
    """(epochs, T, 3) int32 triplet indices; row e-1 holds epoch e. Only images in ``pool`` appear;
    T = :func:`items_per_epoch`."""
    pool = _pool(labels, pool)
    per_epoch = items_per_epoch(per_epoch, len(pool), 3)
    drawn = [draw_triplets(labels[pool], per_epoch, np.random.default_rng([seed, e]))
             for e in range(1, epochs + 1)]
    return pool[np.stack(drawn)].astype(np.int32)


def make_test_pairs(labels: np.ndarray, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed, balanced (half same-class) set of pairs over an evaluation split (validation or test)."""
    return draw_pairs(labels, n_pairs, 0.5, np.random.default_rng([seed, TEST_STREAM]))
