import numpy as np

from siamese_mnist.config import EvaluateConfig
from siamese_mnist.evaluation import evaluate_epoch, fit_logreg, logreg_params, predict_logreg, verification


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
    row, _ = evaluate_epoch(x, y, x, y, pairs, np.array([1, 0, 1, 0]), EvaluateConfig(silhouette_samples=500))
    assert row["logreg_acc"] == 1.0 and row["knn_acc"] == 1.0 and row["roc_auc"] == 1.0
    assert row["silhouette"] > 0.9
