"""The metrics of an epoch, worked out by hand; the retrieval metrics also checked against an independent
implementation, pytorch-metric-learning's AccuracyCalculator.

Same convention on both sides: every point is a query and the reference set is all points
(``ref_includes_query``), a query is never its own neighbour, and a class with one member has no query.
"""

import numpy as np
import pytest
import torch
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

from siamese_mnist.config import EvaluateConfig
from siamese_mnist.datasets.splits import load_split
from siamese_mnist.evaluation import (
    evaluate_epoch,
    oneshot_accuracy,
    oneshot_score,
    oneshot_supports,
    pair_scores,
    retrieval,
)
from siamese_mnist.probe import REJECT_ALL
from test_probe import clusters  # ten well-separated 2-D clusters


def test_pair_scores_at_a_given_threshold():
    x = np.array([[0, 0], [0, 0.1], [5, 5], [5, 5.2], [9, 9], [1, 1], [1, 1]])
    pairs = np.array([[0, 1], [2, 3], [0, 2], [1, 3]])
    out = pair_scores(x, pairs, np.array([1, 1, 0, 0]), threshold=0.15)  # d = 0.1, 0.2, ~7.1, ~7.0
    assert out["roc_auc"] == 1.0 and out["pair_acc"] == 0.75  # the d = 0.2 positive is rejected
    out = pair_scores(x, np.array([[4, 0], [5, 6]]), np.array([1, 0]), threshold=REJECT_ALL)
    assert out["roc_auc"] == 0.0 and out["pair_acc"] == 0.5  # reversed distance; rejecting all gets the negative


def test_evaluate_epoch_fits_on_fit_chooses_on_val_and_reports_test_separately():
    x, y = clusters()
    xv, yv = clusters(seed=1)
    xt, yt = clusters(seed=2)
    # the test embedding is shuffled against its labels: a model that fits or scores on the wrong array
    # would show it as perfect
    emb = {"fit": x[None], "fit_labels": y, "val": xv[None], "val_labels": yv,
           "test": np.random.default_rng(3).permutation(xt)[None], "test_labels": yt}
    val_pairs = (np.array([[0, 1], [0, 60], [100, 101], [100, 400]]), np.array([1, 0, 1, 0]))
    test_pairs = (np.array([[0, 1], [0, 60]]), np.array([1, 0]))
    cfg = EvaluateConfig(silhouette_samples=500, logreg_c=(0.01, 1.0))
    row, pipe = evaluate_epoch(emb, 0, val_pairs, test_pairs, cfg, 0)
    assert row["val_logreg_acc"] == 1.0 and row["val_knn_acc"] == 1.0 and row["val_roc_auc"] == 1.0
    assert row["val_pair_acc"] == 1.0 and row["val_map_at_r"] == 1.0 and row["val_oneshot_all_acc"] == 1.0
    assert row["val_silhouette"] > 0.9 and row["val_oneshot_holdout_acc"] is None
    assert row["logreg_acc"] < 0.3 and row["knn_acc"] < 0.3 and row["map_at_r"] < 0.3  # chance is 0.1
    # the threshold is exactly the validation optimum: midway between the farther validation positive
    # and the nearer validation negative (the test pairs would put it elsewhere)
    d = np.linalg.norm(xv[val_pairs[0][:, 0]] - xv[val_pairs[0][:, 1]], axis=1)
    assert row["threshold"] == pytest.approx((max(d[0], d[2]) + min(d[1], d[3])) / 2)
    assert row["logreg_c"] in (0.01, 1.0)
    emb["test"] = xt[None]
    row, _ = evaluate_epoch(emb, 0, val_pairs, test_pairs, cfg, 0, holdout=(7, 8, 9))
    assert row["logreg_acc"] == 1.0 and row["pair_acc"] == 1.0 and row["oneshot_holdout_acc"] == 1.0


def test_retrieval_matches_hand_computed_values():
    # points on a line: class 0 at x = 0, 1, 3; class 1 at x = 2, 10
    x = np.array([[0.0, 0], [1, 0], [3, 0], [2, 0], [10, 0]])
    y = np.array([0, 0, 0, 1, 1])
    out = retrieval(x, y, chunk=2)
    # x=0 (R=2): neighbours 1 (same), 2 (other)              -> P@1 1, RP 1/2, MAP@R (1/1)/2 = 1/2
    # x=1 (R=2): 0 and 2 tie at d=1; 0 (index 0) comes first -> P@1 1, RP 1/2, MAP@R 1/2
    # x=3 (R=2): 2 (other), then 1 (same)                     -> P@1 0, RP 1/2, MAP@R (1/2)/2 = 1/4
    # x=2 (R=1): 1 and 3 tie at d=1, both class 0             -> 0, 0, 0
    # x=10 (R=1): 3 (class 0)                                 -> 0, 0, 0
    assert abs(out["precision_at_1"] - 2 / 5) < 1e-12
    assert abs(out["r_precision"] - 1.5 / 5) < 1e-12
    assert abs(out["map_at_r"] - 1.25 / 5) < 1e-12


def test_oneshot_of_a_perfect_embedding_is_one_and_of_a_bad_one_is_hand_computed():
    x, y = clusters(n_per=20)
    sup = oneshot_supports(y, tuple(range(10)), 30, seed=0)
    assert sup.shape == (30, 10) and np.all(y[sup] == np.arange(10))
    assert np.array_equal(sup, oneshot_supports(y, tuple(range(10)), 30, seed=0))  # seeded
    assert oneshot_accuracy(x, y, tuple(range(10)), sup) == 1.0
    # class 0 at x = 0, 4, 1 and class 1 at x = 5, 6; supports x=1 (class 0) and x=6 (class 1)
    x = np.array([[0.0, 0], [4, 0], [1, 0], [5, 0], [6, 0]])
    y = np.array([0, 0, 0, 1, 1])
    # queries x=0 (d 1 vs 6: right), x=4 (d 3 vs 2: wrong), x=5 (d 4 vs 1: right); supports are not queries
    assert abs(oneshot_accuracy(x, y, (0, 1), np.array([[2, 4]])) - 2 / 3) < 1e-12


def test_oneshot_way_caps_the_classes_per_episode():
    # Classes 0 and 1 sit on the same point, class 2 far away; 4 images each. With all 3 classes in an
    # episode, a query of 0 or 1 is equally near both supports and argmin names the first (class 0):
    # 3 of the 9 queries (class 1's) are wrong -> 2/3 exactly. Capped at 2 classes, an episode is {0, 1}
    # (3 of 6 right), {0, 2} or {1, 2} (all right), each a third of the time: 5/6 on average.
    x = np.array([[0.0, 0]] * 8 + [[10.0, 0]] * 4)
    y = np.repeat([0, 1, 2], 4)
    uncapped = oneshot_score(x, y, (0, 1, 2), EvaluateConfig(episodes=50), seed=0)
    assert abs(uncapped - 2 / 3) < 1e-12
    assert oneshot_score(x, y, (0, 1, 2), EvaluateConfig(episodes=50, oneshot_way=3), seed=0) == uncapped
    capped = oneshot_score(x, y, (0, 1, 2), EvaluateConfig(episodes=600, oneshot_way=2), seed=0)
    assert abs(capped - 5 / 6) < 0.04  # sd of the episode mix: 0.5 * sqrt(2/9 / 600) = 0.01
    # a class with a single image has no query: it is left out, not an error
    assert oneshot_score(x, np.r_[y[:-3], [3, 3, 4]], (0, 1, 2, 3, 4), EvaluateConfig(episodes=5), seed=0) is not None


def test_evaluate_epoch_chooses_c_on_validation_even_where_test_would_prefer_another():
    rng = np.random.default_rng(0)
    # fit: 190 of class 0 around (-1, 0), 10 of class 1 around (1, 0); validation balanced and separable:
    # C = 1 separates it, C = 1e-4 says "class 0" everywhere (1/2). The test split is all class 0, drawn
    # where class 1 lives: there the constant "class 0" of C = 1e-4 is right and C = 1 is wrong.
    fit = np.concatenate([rng.normal([-1, 0], 0.3, (190, 2)), rng.normal([1, 0], 0.3, (10, 2))])
    val = np.concatenate([rng.normal([-1, 0], 0.3, (100, 2)), rng.normal([1, 0], 0.3, (100, 2))])
    test = rng.normal([1, 0], 0.3, (100, 2))
    emb = {"fit": fit[None], "fit_labels": np.repeat([0, 1], [190, 10]), "val": val[None],
           "val_labels": np.repeat([0, 1], 100), "test": test[None], "test_labels": np.zeros(100, int)}
    pairs = (np.array([[0, 1], [0, 150]]), np.array([1, 0]))
    cfg = EvaluateConfig(silhouette_samples=100, logreg_c=(1e-4, 1.0), episodes=5)
    row, _ = evaluate_epoch(emb, 0, pairs, (np.array([[0, 1], [2, 3]]), np.array([1, 0])), cfg, 0)
    assert row["logreg_c"] == 1.0 and row["val_logreg_acc"] > 0.95
    assert row["logreg_acc"] < 0.05  # reported as it is: the test split pays for the validation choice


def test_holdout_metrics_score_the_held_out_classes_alone():
    from siamese_mnist.evaluation import holdout_metrics

    # classes 5 and 6 sit apart on a line; class 0 sits on top of them. Among 5 and 6 alone every nearest
    # neighbour is a classmate (MAP@R 1) and every same-class pair is closer than every other pair (ROC-AUC 1);
    # with class 0 counted, neither would hold.
    x = np.array([[0.0], [0.2], [1.0], [1.2], [0.1], [1.1]])
    labels = np.array([5, 5, 6, 6, 0, 0])
    assert holdout_metrics(x, labels, (5, 6), seed=0) == {"holdout_map_at_r": 1.0, "holdout_roc_auc": 1.0}
    assert holdout_metrics(x, labels, (), seed=0) == {}  # no held-out class: no keys (the metrics files stay as they were)
    from siamese_mnist.evaluation import retrieval
    assert retrieval(x, labels)["map_at_r"] < 1.0  # the same points with class 0 counted


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
