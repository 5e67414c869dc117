import numpy as np

from siamese_mnist.config import EvaluateConfig
from siamese_mnist.evaluation import (evaluate_epoch, fit_logreg, logreg_params, oneshot_accuracy,
                                     oneshot_supports, predict_logreg, retrieval, verification)


def clusters(n_per=50, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[np.cos(t), np.sin(t)] for t in np.linspace(0, 2 * np.pi, 10, endpoint=False)]) * 10
    x = np.concatenate([c + rng.normal(0, 0.3, (n_per, 2)) for c in centres])
    return x, np.repeat(np.arange(10), n_per)


def test_logreg_separates_well_separated_clusters():
    x, y = clusters()
    xt, yt = clusters(seed=1)
    pipe = fit_logreg(x, y)
    assert pipe.score(xt, yt) >= 0.99
    assert np.array_equal(predict_logreg(logreg_params(pipe), xt), pipe.predict(xt))


def test_verification_of_a_perfectly_separating_distance():
    x = np.array([[0, 0], [0, 0.1], [5, 5], [5, 5.2]])
    pairs = np.array([[0, 1], [2, 3], [0, 2], [1, 3]])
    same = np.array([1, 1, 0, 0])
    out = verification(x, pairs, same)
    assert out["roc_auc"] == 1.0 and out["pair_accuracy"] == 1.0
    assert 0.2 <= out["threshold"] < np.hypot(5, 4.9)  # accepts d=0.1, 0.2; rejects d≈7


def test_verification_of_a_reversed_distance_is_zero_auc():
    x = np.array([[0, 0], [9, 9], [1, 1], [1, 1]])
    out = verification(x, np.array([[0, 1], [2, 3]]), np.array([1, 0]))
    assert out["roc_auc"] == 0.0 and out["pair_accuracy"] == 0.5


def test_evaluate_epoch_on_perfect_embedding():
    x, y = clusters()
    pairs = np.array([[0, 1], [0, 60], [100, 101], [100, 400]])
    row, _ = evaluate_epoch(x, y, x, y, pairs, np.array([1, 0, 1, 0]), EvaluateConfig(silhouette_samples=500), 0, 0)
    assert row["logreg_acc"] == 1.0 and row["knn_acc"] == 1.0 and row["roc_auc"] == 1.0
    assert row["silhouette"] > 0.9
    assert row["precision_at_1"] == row["r_precision"] == row["map_at_r"] == 1.0
    assert row["oneshot_all_acc"] == 1.0 and row["oneshot_holdout_acc"] is None
    row, _ = evaluate_epoch(x, y, x, y, pairs, np.array([1, 0, 1, 0]), EvaluateConfig(silhouette_samples=500), 0,
                            holdout=(7, 8, 9))
    assert row["oneshot_holdout_acc"] == 1.0


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
