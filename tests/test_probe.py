"""The probe: logistic regression (fit, its parameters, C chosen on validation) and the verification threshold."""

import numpy as np

from siamese_mnist.probe import REJECT_ALL, best_threshold, fit_logreg, logreg_params, predict_logreg, select_logreg


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


def test_best_threshold_is_midway_between_the_last_accepted_and_first_rejected_distance():
    # same if d <= t: accepting the two positives at 0.1, 0.2 and rejecting 0.4, 0.5 is perfect
    t, acc = best_threshold(np.array([0.5, 0.1, 0.4, 0.2]), np.array([0, 1, 0, 1]))
    assert abs(t - 0.3) < 1e-12 and acc == 1.0
    # one positive sits among the negatives: accepting {0.1} scores 3/4, accepting {0.1, 0.2, 0.3} 3/4 too;
    # ties go to the smaller threshold, so t = (0.1 + 0.2) / 2
    t, acc = best_threshold(np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 0, 1, 0]))
    assert abs(t - 0.15) < 1e-12 and acc == 0.75


def test_best_threshold_rejects_every_pair_when_that_is_best():
    # the closest pair is a negative; only the farthest is a positive. Accepting none: 3/4 right;
    # accepting everything up to the positive: 1/4. The cut must say "different" to all of them.
    d = np.array([0.1, 0.2, 0.3, 0.4])
    t, acc = best_threshold(d, np.array([0, 0, 0, 1]))
    assert t == REJECT_ALL and acc == 0.75
    assert not (d <= t).any() and not (np.zeros(1) <= t).any()  # even an exact duplicate is rejected


def test_best_threshold_never_splits_equal_distances():
    # d = 0.2 twice, one positive and one negative: a cut can take both or neither. Accepting {0.1}: 3/4,
    # {0.1, 0.2, 0.2}: 3/4 (splitting the tie would claim 4/4); the tie goes to the smaller threshold
    t, acc = best_threshold(np.array([0.1, 0.2, 0.2, 0.9]), np.array([1, 1, 0, 0]))
    assert abs(t - 0.15) < 1e-12 and acc == 0.75


def test_select_logreg_keeps_the_c_that_validation_prefers():
    rng = np.random.default_rng(0)
    # two classes separated along x; the fit set holds 190 of class 0 and 10 of class 1, validation is balanced
    fit = np.concatenate([rng.normal([-1, 0], 0.3, (190, 2)), rng.normal([1, 0], 0.3, (10, 2))])
    fit_y = np.repeat([0, 1], [190, 10])
    val = np.concatenate([rng.normal([-1, 0], 0.3, (200, 2)), rng.normal([1, 0], 0.3, (200, 2))])
    val_y = np.repeat([0, 1], 200)
    # C = 1e-4 shrinks the weights to ~0, so the intercept (the majority class) decides: 1/2 on validation;
    # C = 1 separates the classes: validation must pick it, whatever order the candidates come in
    assert fit_logreg(fit, fit_y, 1e-4).score(val, val_y) == 0.5
    pipe, c = select_logreg(fit, fit_y, val, val_y, (1.0, 1e-4))
    assert c == 1.0 and pipe.score(val, val_y) > 0.95
    pipe, c = select_logreg(fit, fit_y, val, val_y, (1.0, 2.0))  # equal on validation: the smaller C wins
    assert c == 1.0


def test_the_probe_is_the_same_whatever_blas_threads_the_caller_allows():
    """At D = 64, lbfgs's weights depend on OpenBLAS's thread count (benchmarks/probe_threads.py): the probe pins
    one thread, so a 16-core machine, CI's 2 cores and a queued `SIAMESE_MNIST_THREADS=1` run fit the same probe."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng([0, 64])
    centres = rng.normal(size=(10, 64))
    y = rng.integers(0, 10, 6000)
    x = centres[y] + rng.normal(scale=3.0, size=(6000, 64))
    fit, val = (x[:5000], y[:5000]), (x[5000:], y[5000:])
    fitted = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            pipe, c = select_logreg(*fit, *val, (0.1, 10.0))
        fitted.append((pipe[-1].coef_.tobytes(), pipe[-1].intercept_.tobytes(), c))
    assert fitted[0] == fitted[1]
