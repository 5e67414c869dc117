"""The probe fitted on an embedding: a logistic regression (its C chosen on validation) and a verification
threshold (chosen on validation pairs), as plain numbers. ``evaluation`` fits it, the evaluate stage writes it
(``models/<model>_probe.json``), ``plotting`` draws its decision regions and ``compare`` reads its threshold:
one module, so nothing is rebuilt by calling back into the scorer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import read_json

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def fit_logreg(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> Pipeline:
    """Standardise, then multinomial logistic regression: (N, D) float, (N,) int -> fitted pipeline."""
    from sklearn.linear_model import LogisticRegression  # imported here: plotting reads probes without sklearn
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(x, y)


def logreg_params(pipe: Pipeline) -> dict:
    """The fitted pipeline as plain numbers: predict = argmax(((x - mean) / scale) @ coef.T + intercept)."""
    scaler, lr = pipe[0], pipe[-1]
    return {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(), "coef": lr.coef_.tolist(),
            "intercept": lr.intercept_.tolist(), "classes": lr.classes_.tolist()}


def predict_logreg(params: dict, x: np.ndarray) -> np.ndarray:
    """Class predictions for (N, D) points from :func:`logreg_params` output."""
    z = (x - np.asarray(params["mean"])) / np.asarray(params["scale"])
    scores = z @ np.asarray(params["coef"]).T + np.asarray(params["intercept"])
    return np.asarray(params["classes"])[scores.argmax(axis=1)]


def select_logreg(fit: np.ndarray, fit_labels: np.ndarray, val: np.ndarray, val_labels: np.ndarray,
                  candidates: tuple[float, ...]) -> tuple[Pipeline, float]:
    """Fit a logistic regression per candidate C on ``fit``; keep the one most accurate on ``val``
    (ties: the strongest regularisation, i.e. the smallest C)."""
    from threadpoolctl import threadpool_limits

    best = None
    # One BLAS thread, on any machine: at D = 64 lbfgs's result depended on OpenBLAS's thread count (at D <= 16 it
    # did not), and one thread fits these small problems ~5x faster than two (benchmarks/RESULTS.md).
    with threadpool_limits(1, user_api="blas"):
        for c in sorted(candidates):
            pipe = fit_logreg(fit, fit_labels, c)
            acc = pipe.score(val, val_labels)
            if best is None or acc > best[0]:
                best = (acc, pipe, c)
    return best[1], float(best[2])


REJECT_ALL = -1.0  # a threshold below every distance: "same" is never said


def best_threshold(d: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The cut t of "same if d <= t" with the highest accuracy on these pairs, and that accuracy.

    Every cut between two neighbouring distinct distances is tried, plus accepting none and
    accepting all; t sits midway between the last accepted and the first rejected distance, and is
    :data:`REJECT_ALL` when saying "different" to every pair is best. Ties go to the smaller t.
    """
    order = np.argsort(d, kind="stable")
    ds, ys = d[order], same[order].astype(bool)
    accepted_pos = np.concatenate([[0], np.cumsum(ys)])  # accepting the first k pairs, k = 0..P
    accepted_neg = np.concatenate([[0], np.cumsum(~ys)])
    acc = (accepted_pos + (~ys).sum() - accepted_neg) / len(ds)
    valid = np.ones(len(ds) + 1, bool)
    valid[1:-1] = ds[1:] != ds[:-1]  # never split a group of equal distances
    k = int(np.flatnonzero(valid)[np.argmax(acc[valid])])
    if k == 0:
        return REJECT_ALL, float(acc[0])
    t = ds[-1] if k == len(ds) else (ds[k - 1] + ds[k]) / 2
    return float(t), float(acc[k])


def probe_record(logreg: dict, c: float, threshold: float, logreg_acc: list[float]) -> dict:
    """What ``models/<model>_probe.json`` holds: the final probe, and every epoch's test accuracy (the grid's titles)."""
    return {"logreg": logreg, "logreg_c": float(c), "threshold": threshold,
            "logreg_acc": [round(float(a), 6) for a in logreg_acc]}


def read_probe(path: str | Path) -> dict:
    return read_json(path)
