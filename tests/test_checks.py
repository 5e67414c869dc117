"""What params need of the data and the machine (the check stage), with counts worked out by hand."""

import numpy as np
import pytest

from siamese_mnist.checks import (
    ClassCounts,
    check_counts,
    check_lists,
    check_memory,
    idx_class_counts,
    memory_needs,
    physical_memory,
    split_counts,
)
from siamese_mnist.config import params_from_dict
from siamese_mnist.datasets.splits import stratified_counts, stratified_subset
from siamese_mnist.errors import ParamsError

DIGITS = [str(i) for i in range(10)]


def test_stratified_counts_round_by_largest_remainder_and_match_the_subset():
    # 5 of [5, 3, 2]: quotas 2.5, 1.5, 1.0 -> floors 2, 1, 1; the one left goes to the first largest remainder
    assert stratified_counts(np.array([5, 3, 2]), 5).tolist() == [3, 1, 1]
    assert stratified_counts(np.array([5, 3, 2]), None).tolist() == [5, 3, 2]
    labels = np.repeat(np.arange(10), idx_class_counts("mnist").test)
    for limit in (15, 20, 333):
        drawn = np.bincount(labels[stratified_subset(labels, limit, seed=7)], minlength=10)
        assert drawn.tolist() == stratified_counts(idx_class_counts("mnist").test, limit).tolist()


def test_a_test_limit_that_leaves_a_class_one_image_is_refused_with_the_smallest_that_works():
    # 15 of MNIST's test split: every quota is 1.3..1.7, floors 1 each; the 5 left go to classes 1, 2, 7, 3, 9
    # (remainders .70, .548, .542, .515, .5135): class 0 keeps 1 image. 20 gives every class 2.
    p = params_from_dict({"data": {"test_limit": 15}})
    with pytest.raises(ParamsError, match=r"^data.test_limit: 15 gives class 0 only 1 test image\(s\); every class "
                                          r"needs at least 2 .*; 20 is enough$"):
        check_counts(p, idx_class_counts("mnist"), DIGITS)
    check_counts(params_from_dict({"data": {"test_limit": 20}}), idx_class_counts("mnist"), DIGITS)


def test_validation_carved_too_small_is_refused():
    # 100 training images, 10 classes of 10: val_size 20 gives each 2; 0.15 (15) gives classes 0-4 2, 5-9 1
    p = params_from_dict({"data": {"dataset": "folder", "val_size": 20, "fit_samples": 10}})
    counts = ClassCounts(np.full(10, 10), np.full(10, 5), where="imgs")
    check_counts(p, counts, DIGITS)
    assert split_counts(p, counts)["val"].tolist() == [2] * 10
    p15 = params_from_dict({"data": {"dataset": "folder", "val_size": 0.15, "fit_samples": 10}})
    with pytest.raises(ParamsError, match=r"^data.val_size: 0.15 gives class 5 only 1 val image"):
        check_counts(p15, counts, DIGITS)


def test_a_folder_class_of_one_test_image_names_the_folder():
    p = params_from_dict({"data": {"dataset": "folder", "val_size": 0.2, "fit_samples": 10}})
    counts = ClassCounts(np.array([10, 10, 10]), np.array([3, 1, 2]), where="/data/shapes")
    with pytest.raises(ParamsError, match=r"^/data/shapes/test/square: 1 image\(s\); every class needs at least 2"):
        check_counts(p, counts, ["circle", "square", "star"])


@pytest.mark.parametrize("section, values, message", [
    ("render", {"epochs": [0, 1, 2, 1]}, "render.epochs: 1 is listed twice; list each entry once"),
    ("evaluate", {"logreg_c": [0.1, 1.0, 1.0]}, "evaluate.logreg_c: 1.0 is listed twice; list each entry once"),
])
def test_a_list_param_that_repeats_an_entry_is_refused(section, values, message):
    with pytest.raises(ParamsError, match=f"^{message}$"):
        check_lists(params_from_dict({section: values}))
    check_lists(params_from_dict({section: {k: sorted(set(v)) for k, v in values.items()}}))  # once each: fine


def test_knn_k_above_the_reference_size_is_refused():
    p = params_from_dict({"evaluate": {"knn_k": 10001}})
    with pytest.raises(ParamsError, match=r"^evaluate.knn_k: 10001 is out of range; allowed 1..10000 "):
        check_counts(p, idx_class_counts("mnist"), DIGITS)
    check_counts(params_from_dict({"evaluate": {"knn_k": 10000}}), idx_class_counts("mnist"), DIGITS)


def test_memory_needs_worked_out_by_hand():
    p = params_from_dict({})
    splits = split_counts(p, idx_class_counts("mnist"))
    needs = dict(memory_needs(p, splits, 28))
    # dumps: 51 epochs x (10 000 fit + 6 000 val (a tenth of 60 000) + 10 000 test) x 2 floats x 4 bytes x 3 models
    assert needs["train.epochs + 1 = 51 embedding dumps of 26,000 images"] == 51 * 26_000 * 2 * 4 * 3
    # one image's training activations: 2 x 4 bytes x (3 x 32 x 24 x 24 + 3 x 64 x 8 x 8 + 2 x 256) = 544 768
    assert needs["cnn.batch_size items a step (256 × 1 image(s))"] == 256 * 544_768
    # the triplet index file: 50 epochs x 36 000 triplets (2 x 54 000 images / 3) x 3 int32, about 5 x that
    # while the sampler builds it
    assert needs["train.epochs × triplet items (50 × 36,000 of 3 image(s))"] == 5 * 4 * 50 * 36_000 * 3
    # 200 episodes x 10 supports, int64
    assert needs["evaluate.episodes one-shot supports (200 × 10 classes)"] == 200 * 10 * 8
    check_memory(p, splits, 28, available=2 * 10**9)  # the default run fits in 2 GB


def test_a_budget_that_cannot_fit_names_the_params_and_the_figure():
    # 5 x 4 bytes x 1000 epochs x 10^8 pairs x 2 images = 4e12
    p = params_from_dict({"train": {"epochs": 1000}, "siamese": {"per_epoch": 10**8}, "render": {"epochs": [0]}})
    splits = split_counts(p, idx_class_counts("mnist"))
    with pytest.raises(ParamsError, match=r"^train.epochs × siamese items \(1000 × 100,000,000 of 2 image\(s\)\) "
                                          r"needs about 4 TB of memory; this machine has 16 GB$"):
        check_memory(p, splits, 28, available=16 * 10**9)


def test_a_train_limit_that_leaves_a_class_one_image_names_train_limit_not_val_size():
    # 21 of [10, 10, 1]: quotas 10, 10, 1 -> class 2 keeps its one image
    p = params_from_dict({"data": {"dataset": "folder", "train_limit": 21, "val_size": 6, "fit_samples": 10},
                          "evaluate": {"knn_k": 5}})
    counts = ClassCounts(np.array([10, 10, 1]), np.array([5, 5, 5]), where="/data/shapes")
    with pytest.raises(ParamsError, match=r"^data.train_limit: 21 gives class star only 1 train image"):
        check_counts(p, counts, ["circle", "square", "star"])


def test_a_silhouette_sample_smaller_than_two_per_class_is_refused():
    p = params_from_dict({"data": {"dataset": "folder", "val_size": 0.2, "fit_samples": 10},
                          "evaluate": {"silhouette_samples": 20}})
    counts = ClassCounts(np.full(12, 10), np.full(12, 5), where="/data/shapes")
    with pytest.raises(ParamsError, match=r"^evaluate.silhouette_samples: 20 is out of range for 12 classes; "
                                          r"allowed >= 24$"):
        check_counts(p, counts, [str(c) for c in range(12)])


@pytest.mark.parametrize("seed", range(20))
def test_split_counts_are_what_the_stages_draw(seed):
    """Against splits.split_validation and stratified_subset themselves, on random class sizes and limits."""
    from siamese_mnist.datasets.splits import split_validation

    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 60, size=rng.integers(2, 8))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    test_labels = np.repeat(np.arange(len(sizes)), rng.integers(2, 30, size=len(sizes)))
    limit = int(rng.integers(len(sizes), len(labels) + 1))
    val = float(rng.uniform(0.05, 0.3)) if seed % 2 else int(rng.integers(2, 10))
    test_limit = int(rng.integers(len(sizes), len(test_labels) + 1))
    p = params_from_dict({"data": {"dataset": "folder", "train_limit": limit, "val_size": val,
                                   "test_limit": test_limit, "fit_samples": 10}})
    got = split_counts(p, ClassCounts(np.bincount(labels), np.bincount(test_labels)))
    sub = labels[stratified_subset(labels, limit, seed)]
    try:
        tr, va = split_validation(sub, val, seed)
    except Exception:  # a class left fewer than 2 training images: check_counts refuses those
        assert (got["train"][np.bincount(sub, minlength=len(sizes)) > 0] < 2).any()
        return
    k = len(sizes)
    assert got["train"].tolist() == np.bincount(sub[tr], minlength=k).tolist()
    assert got["val"].tolist() == np.bincount(sub[va], minlength=k).tolist()
    drawn_test = test_labels[stratified_subset(test_labels, test_limit, seed + 1)]
    assert got["test"].tolist() == np.bincount(drawn_test, minlength=k).tolist()


def test_the_weights_count_and_a_cgroup_memory_limit_caps_the_machine(tmp_path):
    p = params_from_dict({})
    needs = dict(memory_needs(p, split_counts(p, idx_class_counts("mnist")), 28))
    # conv 1x32x5x5 + BN 2x32, conv 32x64x5x5 + BN 2x64, fc 1024x256 + 256, fc 256x2 + 2, classifier 2x10 + 10
    cnn = 800 + 64 + 51_200 + 128 + 262_144 + 256 + 512 + 2 + 30
    assert needs[f"model.* ({cnn:,} weights of cnn, with gradients and optimizer state)"] == 16 * cnn
    (tmp_path / "memory.max").write_text("2147483648\n")
    assert physical_memory(str(tmp_path)) == 2 * 2**30
    (tmp_path / "memory.max").write_text("max\n")
    assert physical_memory(str(tmp_path)) == physical_memory(str(tmp_path / "none")) > 2**28
