"""The splits: the real files' label counts, class-stratified subsets and the validation split."""

import numpy as np

from siamese_mnist.datasets.splits import load_split, split_validation, stratified_subset


def test_real_files_verify_and_have_known_label_counts(raw_dir):
    _, labels = load_split(raw_dir, "train")
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    images, labels = load_split(raw_dir, "test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_stratified_subset_is_exact_seeded_and_proportional():
    labels = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 100])
    idx = stratified_subset(labels, 110, seed=3)
    assert len(idx) == 110 and len(set(idx)) == 110
    counts = np.bincount(labels[idx])
    assert counts[1] == 20 and set(counts[[0, 2, 3, 4, 5, 6, 7, 8, 9]]) == {10}
    assert np.array_equal(idx, stratified_subset(labels, 110, seed=3))
    assert not np.array_equal(idx, stratified_subset(labels, 110, seed=4))
    assert np.array_equal(stratified_subset(labels, None, 0), np.arange(len(labels)))


def test_validation_split_is_disjoint_stratified_seeded_and_apart_from_the_subset_draw():
    labels = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 100])
    train, val = split_validation(labels, 110, seed=3)
    assert len(val) == 110 and len(train) == 990 and not set(train) & set(val)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1100))
    counts = np.bincount(labels[val])
    assert counts[1] == 20 and set(counts[[0, 2, 3, 4, 5, 6, 7, 8, 9]]) == {10}
    assert np.array_equal(val, split_validation(labels, 110, seed=3)[1])
    assert not np.array_equal(val, split_validation(labels, 110, seed=4)[1])
    # its own random stream: not the same images a train_limit subset of that size would take
    assert not np.array_equal(val, stratified_subset(labels, 110, seed=3))
