"""Retrieval metrics checked against an independent implementation: pytorch-metric-learning's AccuracyCalculator.

Same convention on both sides: every point is a query and the reference set is all points
(``ref_includes_query``), a query is never its own neighbour, and a class with one member has no query.
"""

import numpy as np
import pytest
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

from siamese_mnist.datasets.splits import load_split
from siamese_mnist.evaluation import retrieval

NAMES = {"precision_at_1": "precision_at_1", "r_precision": "r_precision", "mean_average_precision_at_r": "map_at_r"}
EXACT = "donot_use_mm_for_euclid_dist"


class ExactL2(LpDistance):
    """Euclidean distance from exact differences, as evaluation uses in 2-D: pml's default matmul form rounds
    (in float32, ~1e-3 at PCA scale) differently and so reorders near-equal neighbours of real data."""

    def compute_mat(self, query_emb, ref_emb):
        return torch.cdist(query_emb, ref_emb, compute_mode=EXACT)


def reference_metrics(x: np.ndarray, labels: np.ndarray) -> dict:
    """pytorch-metric-learning's scores, by brute-force k-NN (no faiss) over the query set itself."""
    calc = AccuracyCalculator(include=tuple(NAMES), k="max_bin_count", device=torch.device("cpu"),
                              knn_func=CustomKNN(ExactL2(normalize_embeddings=False)))
    out = calc.get_accuracy(torch.from_numpy(x), torch.from_numpy(labels))  # no reference: ref_includes_query=True
    return {ours: out[theirs] for theirs, ours in NAMES.items()}


def assert_no_ties_that_matter(x: np.ndarray, labels: np.ndarray) -> None:
    """No query has, among its R+1 nearest, two neighbours at equal distance, one of its class and one not:
    the two implementations may break such a tie differently."""
    xt, y = torch.from_numpy(x), torch.from_numpy(labels)
    d, order = torch.cdist(xt, xt, compute_mode=EXACT).fill_diagonal_(float("inf")).sort(dim=1)
    rel = y[order] == y[:, None]
    r = torch.bincount(y)[y] - 1
    counted = torch.arange(len(x) - 1)[None, :] < r[:, None]  # the pair (k, k+1) for k < R
    assert not ((d[:, 1:] == d[:, :-1]) & (rel[:, 1:] != rel[:, :-1]) & counted).any()


def test_random_clusters_of_ten_classes_and_a_lone_point():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    x = rng.normal(size=(10, 2))[labels] * 2 + rng.normal(size=(300, 2))  # overlapping clusters
    x, labels = np.vstack([x, [[5, 5]]]).astype(np.float32), np.append(labels, 10)  # class 10: one member, no query
    assert_no_ties_that_matter(x, labels)
    ours, theirs = retrieval(x, labels, chunk=64), reference_metrics(x, labels)
    assert 0.3 < ours["precision_at_1"] < 0.5 and 0.1 < ours["map_at_r"] < 0.3  # 0.41 and 0.23: not chance, not 1
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_pca_of_real_mnist_digits(raw_dir):
    images, labels = load_split(raw_dir, "test")
    pixels = images[:500].reshape(500, -1).astype(np.float64)
    centred = pixels - pixels.mean(axis=0)
    x = (centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T).astype(np.float32)  # (500, 2)
    labels = labels[:500].astype(np.int64)
    assert_no_ties_that_matter(x, labels)
    ours, theirs = retrieval(x, labels), reference_metrics(x, labels)
    assert 0.3 < ours["precision_at_1"] < 0.5 and 0.1 < ours["map_at_r"] < 0.3  # 0.39 and 0.19: real, imperfect
    assert ours == pytest.approx(theirs, abs=1e-12)
