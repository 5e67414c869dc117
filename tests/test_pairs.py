import time

import numpy as np
import pytest

from siamese_mnist.datasets.splits import training_pool
from siamese_mnist.pairs import draw_pairs, draw_triplets, make_epoch_pairs, make_epoch_triplets, make_test_pairs


@pytest.fixture(scope="module")
def labels():
    rng = np.random.default_rng(0)
    return rng.permutation(np.repeat(np.arange(10), rng.integers(50, 120, 10)))


def test_exact_balance_and_class_spread(labels):
    pairs, same = draw_pairs(labels, 1001, 0.5, np.random.default_rng(1))
    assert pairs.dtype == np.int32 and pairs.shape == (1001, 2) and same.dtype == np.uint8
    assert same.sum() == 500  # round(1001 * 0.5) = 500 (banker's rounding of 500.5)
    pos = pairs[same == 1]
    per_class = np.bincount(labels[pos[:, 0]], minlength=10)
    assert per_class.max() - per_class.min() <= 1
    assert np.all(labels[pos[:, 0]] == labels[pos[:, 1]])
    assert np.all(pos[:, 0] != pos[:, 1])  # never an image with itself
    neg = pairs[same == 0]
    assert np.all(labels[neg[:, 0]] != labels[neg[:, 1]])


def test_negatives_are_class_balanced_on_imbalanced_labels():
    # class 0 has 20x the images of class 9; drawn uniformly over images, class 9 would anchor ~1 % of
    # the negatives and class 0 ~20 %. Balanced: each class anchors 1/10 (±1), and the other image's
    # class is uniform over the other nine, so every class takes part in ~2/10 of the negatives.
    labels = np.repeat(np.arange(10), [2000, 500, 500, 500, 500, 500, 500, 500, 500, 100])
    pairs, same = draw_pairs(labels, 20000, 0.5, np.random.default_rng(4))
    neg = pairs[same == 0]
    first = np.bincount(labels[neg[:, 0]], minlength=10)
    assert first.max() - first.min() <= 1
    either = np.bincount(labels[neg].ravel(), minlength=10) / len(neg)
    assert np.all(np.abs(either - 0.2) < 0.02), either


def test_other_positive_fraction_is_exact(labels):
    _, same = draw_pairs(labels, 400, 0.3, np.random.default_rng(2))
    assert same.sum() == 120


def test_two_image_class_never_self_pairs():
    labels = np.array([0, 0, 1, 1, 1])
    pairs, same = draw_pairs(labels, 200, 0.5, np.random.default_rng(0))
    pos = pairs[same == 1]
    assert np.all(pos[:, 0] != pos[:, 1])


def test_same_seed_same_bytes_and_prefix_stable(labels):
    a_pairs, a_same = make_epoch_pairs(labels, 3, 300, 0.5, seed=7)
    b_pairs, b_same = make_epoch_pairs(labels, 3, 300, 0.5, seed=7)
    assert a_pairs.tobytes() == b_pairs.tobytes() and a_same.tobytes() == b_same.tobytes()
    longer, _ = make_epoch_pairs(labels, 5, 300, 0.5, seed=7)
    assert longer[:3].tobytes() == a_pairs.tobytes()
    other, _ = make_epoch_pairs(labels, 3, 300, 0.5, seed=8)
    assert other.tobytes() != a_pairs.tobytes()
    assert not np.array_equal(a_pairs[0], a_pairs[1])  # epochs differ from each other


def test_default_per_epoch_is_training_set_size(labels):
    pairs, _ = make_epoch_pairs(labels, 2, None, 0.5, seed=0)
    assert pairs.shape == (2, len(labels), 2)


def test_test_pairs_are_balanced_and_fixed(labels):
    p1, s1 = make_test_pairs(labels, 100, seed=0)
    p2, _ = make_test_pairs(labels, 100, seed=0)
    assert s1.sum() == 50 and np.array_equal(p1, p2)


def test_default_size_builds_fast():
    labels = np.random.default_rng(0).integers(0, 10, 60_000)
    t0 = time.perf_counter()
    pairs, _ = make_epoch_pairs(labels, 50, None, 0.5, seed=0)
    elapsed = time.perf_counter() - t0
    assert pairs.shape == (50, 60_000, 2)
    assert elapsed < 2.0  # the goal; measured 0.11 s here, while a per-pair Python loop takes 2.5 s


def test_triplets_are_valid_balanced_and_seeded(labels):
    t = draw_triplets(labels, 1003, np.random.default_rng(3))
    assert t.dtype == np.int32 and t.shape == (1003, 3)
    assert np.all(labels[t[:, 0]] == labels[t[:, 1]])  # anchor and positive share a class
    assert np.all(t[:, 0] != t[:, 1])  # ... and are two different images
    assert np.all(labels[t[:, 0]] != labels[t[:, 2]])  # the negative is of another class
    per_class = np.bincount(labels[t[:, 0]], minlength=10)
    assert per_class.max() - per_class.min() <= 1  # 1003 = 10 x 100 + 3: each class anchors 100 or 101
    a = make_epoch_triplets(labels, 3, 200, seed=5)
    assert a.shape == (3, 200, 3) and a.tobytes() == make_epoch_triplets(labels, 3, 200, seed=5).tobytes()
    assert a.tobytes() != make_epoch_triplets(labels, 3, 200, seed=6).tobytes()
    assert make_epoch_triplets(labels, 4, 200, seed=5)[:3].tobytes() == a.tobytes()  # prefix-stable


def test_held_out_classes_never_appear_in_training_tuples(labels):
    pool = training_pool(labels, (7, 8, 9))
    pairs, same = make_epoch_pairs(labels, 3, None, 0.5, seed=0, pool=pool)
    triplets = make_epoch_triplets(labels, 3, None, seed=0, pool=pool)
    for items in (pairs, triplets):
        assert items.shape[1] == len(pool)  # one tuple per allowed image by default
        assert np.unique(labels[items]).tolist() == list(range(7))
    # indices point into the whole split, not into the pool
    pos = pairs[same == 1]
    assert np.all(labels[pos[:, 0]] == labels[pos[:, 1]])
    # without a holdout: exactly the pairs drawn without a pool
    assert make_epoch_pairs(labels, 2, 100, 0.5, seed=1, pool=training_pool(labels))[0].tobytes() == \
        make_epoch_pairs(labels, 2, 100, 0.5, seed=1)[0].tobytes()


def test_items_per_epoch_as_count_default_or_images_per_training_image():
    from siamese_mnist.pairs import items_per_epoch

    assert items_per_epoch(None, 4500, 2) == 4500  # one pair per training image
    assert items_per_epoch(40_000, 55_000, 3) == 40_000  # an int is a count, whatever the data size
    assert items_per_epoch(2.0, 4500, 2) == 4500  # 9 000 images through the tower = 4 500 pairs
    assert items_per_epoch(2.0, 4500, 3) == 3000  # ... = 3 000 triplets
    assert items_per_epoch(2.0, 100, 3) == 67  # 200 / 3 = 66.7, rounded
