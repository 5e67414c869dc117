"""Scores of a 2-D embedding: linear separability, neighbourhoods, clustering and verification.

Every model is scored the same way on the same points, so the numbers compare fairly:
logistic regression and k-NN are fitted on the train-subset embeddings and scored on the
test embeddings; verification uses the Euclidean distance of the fixed test pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve, silhouette_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from .config import EvaluateConfig


def fit_logreg(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> Pipeline:
    """Standardise, then multinomial logistic regression: (N, D) float, (N,) int -> fitted pipeline."""
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


def knn_accuracy(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, k: int) -> float:
    return float(KNeighborsClassifier(n_neighbors=k).fit(x_fit, y_fit).score(x_test, y_test))


def silhouette(x: np.ndarray, y: np.ndarray, samples: int, seed: int) -> float:
    """Silhouette on a seeded sample of points (the full score is quadratic in N)."""
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(silhouette_score(x, y, sample_size=min(samples, len(x)), random_state=seed))


def verification(x: np.ndarray, pairs: np.ndarray, same: np.ndarray) -> dict:
    """ROC-AUC of -distance for same-class pairs, and the accuracy of the best "same if d <= t" threshold."""
    d = np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1).astype(np.float64)
    y = same.astype(bool)
    fpr, tpr, thr = roc_curve(y, -d)
    n_pos, n_neg = y.sum(), (~y).sum()
    acc = (tpr * n_pos + (1 - fpr) * n_neg) / (n_pos + n_neg)
    best = int(np.argmax(acc))
    threshold = float(-thr[best]) if np.isfinite(thr[best]) else float(d.min())
    return {"roc_auc": float(roc_auc_score(y, -d)), "pair_accuracy": float(acc[best]), "threshold": threshold}


def evaluate_epoch(fit: np.ndarray, fit_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray,
                   pairs: np.ndarray, same: np.ndarray, cfg: EvaluateConfig) -> tuple[dict, Pipeline]:
    """All metrics of one epoch's embeddings, and the fitted logistic regression."""
    pipe = fit_logreg(fit, fit_labels, cfg.logreg_c)
    row = {
        "logreg_acc": float(pipe.score(test, test_labels)),
        "knn_acc": knn_accuracy(fit, fit_labels, test, test_labels, cfg.knn_k),
        "silhouette": silhouette(test, test_labels, cfg.silhouette_samples, cfg.seed),
    }
    row.update(verification(test, pairs, same))
    return row, pipe


def evaluate_run(emb: dict[str, np.ndarray], pairs: np.ndarray, same: np.ndarray,
                 cfg: EvaluateConfig, desc: str = "evaluate") -> tuple[pd.DataFrame, dict]:
    """Per-epoch metrics table over an embeddings dump, and the final epoch's logistic-regression params.

    ``emb``: ``fit`` (E+1, M, D), ``fit_labels`` (M,), ``test`` (E+1, N, D), ``test_labels`` (N,).
    """
    n_test = emb["test"].shape[1]
    if pairs.size and pairs.max() >= n_test:
        raise ValueError(f"test pairs index up to {pairs.max()}, but only {n_test} test embeddings exist; "
                         "rerun the pairs stage with the same data.test_limit")
    rows, pipe = [], None
    for epoch in tqdm(range(emb["test"].shape[0]), desc=desc, leave=False):
        row, pipe = evaluate_epoch(emb["fit"][epoch], emb["fit_labels"], emb["test"][epoch], emb["test_labels"],
                                   pairs, same, cfg)
        rows.append({"epoch": epoch, **row})
    return pd.DataFrame(rows), logreg_params(pipe)
