"""Scores of an embedding: linear separability, neighbourhoods, clustering, verification, retrieval, one-shot.

Every model is scored the same way on the same points, so the numbers compare fairly:
logistic regression and k-NN are fitted on the train-subset embeddings and scored on the
test embeddings; verification uses the Euclidean distance of fixed, balanced test pairs; retrieval
ranks every other test point by Euclidean distance; one-shot episodes are drawn from the test
labels and the seed alone, so every model (and the raw-pixel baseline) meets the same episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve, silhouette_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from .config import EvaluateConfig
from .pairs import make_test_pairs


# The final-epoch figures that become DVC metrics; every metric of every epoch is in the per-epoch table.
HEADLINE = ("logreg_acc", "knn_acc", "roc_auc", "map_at_r", "oneshot_all_acc", "oneshot_holdout_acc")


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


def verification_roc(x: np.ndarray, pairs: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair distances (P,) and the ROC of "same if distance <= t": (fpr, tpr, thresholds on -distance)."""
    d = np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1).astype(np.float64)
    return d, *roc_curve(same.astype(bool), -d)


def verification(x: np.ndarray, pairs: np.ndarray, same: np.ndarray) -> dict:
    """ROC-AUC of -distance for same-class pairs, and the accuracy of the best "same if d <= t" threshold."""
    d, fpr, tpr, thr = verification_roc(x, pairs, same)
    y = same.astype(bool)
    n_pos, n_neg = y.sum(), (~y).sum()
    acc = (tpr * n_pos + (1 - fpr) * n_neg) / (n_pos + n_neg)
    best = int(np.argmax(acc))
    threshold = float(-thr[best]) if np.isfinite(thr[best]) else float(d.min())
    return {"roc_auc": float(roc_auc_score(y, -d)), "pair_accuracy": float(acc[best]), "threshold": threshold}


def _distances(q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (Q, D), (M, D) -> (Q, M); exact differences in low dimension, matmul in high."""
    mode = "donot_use_mm_for_euclid_dist" if x.shape[1] <= 16 else "use_mm_for_euclid_dist"
    return torch.cdist(q, x, compute_mode=mode)


def retrieval(x: np.ndarray, labels: np.ndarray, chunk: int = 1024) -> dict:
    """Precision@1, R-precision and MAP@R, each query ranking every other point by Euclidean distance.

    For a query of a class with R other members: R-precision is the share of its R nearest
    neighbours in its class, and MAP@R = (1/R)·Σ_{i≤R} P@i·[i-th neighbour in class]
    (Musgrave, Belongie & Lim 2020). Averaged over queries; a class of one member has no query.
    """
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    r = torch.bincount(y)[y] - 1  # other members of each query's class
    r_max = int(r.max())
    ranks = torch.arange(1, r_max + 1, dtype=torch.float64)
    p1, rp, mapr = [], [], []
    for start in range(0, len(x), chunk):
        rows = torch.arange(start, min(start + chunk, len(x)))
        d = _distances(xt[rows], xt)
        d[torch.arange(len(rows)), rows] = float("inf")  # never retrieve the query itself
        nearest = d.topk(r_max, dim=1, largest=False).indices  # sorted, nearest first
        rel = y[nearest] == y[rows, None]
        rel &= torch.arange(r_max)[None, :] < r[rows, None]  # only the first R ranks count
        rr = r[rows].double().clamp_min(1)
        p1.append(rel[:, 0].double())
        rp.append(rel.sum(1) / rr)
        mapr.append((rel.cumsum(1) / ranks * rel).sum(1) / rr)
    keep = r > 0
    return {"precision_at_1": float(torch.cat(p1)[keep].mean()), "r_precision": float(torch.cat(rp)[keep].mean()),
            "map_at_r": float(torch.cat(mapr)[keep].mean())}


def oneshot_supports(labels: np.ndarray, classes: list[int] | tuple[int, ...], episodes: int,
                     seed: int) -> np.ndarray:
    """(episodes, N) indices into ``labels``: one random support per class in ``classes``, per episode.

    Depends only on the labels, the classes and the seed, so every model meets the same episodes.
    """
    rng = np.random.default_rng([seed, 2, *classes])
    cols = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < 2:
            raise ValueError(f"one-shot: class {c} has {len(members)} test images; need a support and a query")
        cols.append(members[rng.integers(0, len(members), episodes)])
    return np.stack(cols, axis=1)


def oneshot_accuracy(x: np.ndarray, labels: np.ndarray, classes: list[int] | tuple[int, ...],
                     supports: np.ndarray, chunk: int = 50) -> float:
    """N-way one-shot accuracy averaged over episodes: every other test image of ``classes`` is a query,
    labelled with the class of its nearest support (Euclidean distance)."""
    classes_t = torch.as_tensor(list(classes))
    q = np.flatnonzero(np.isin(labels, classes))
    xq = torch.from_numpy(np.ascontiguousarray(x[q], dtype=np.float32))
    yq = torch.from_numpy(labels[q].astype(np.int64))
    xs_all = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    qt = torch.from_numpy(q)
    accs = []
    for start in range(0, len(supports), chunk):
        sup = torch.from_numpy(supports[start:start + chunk])  # (e, N)
        e, n = sup.shape
        d = _distances(xq, xs_all[sup.reshape(-1)]).view(len(q), e, n)
        correct = classes_t[d.argmin(dim=2)] == yq[:, None]  # (Q, e)
        counted = ~(qt[:, None, None] == sup[None]).any(dim=2)  # a support is not its own query
        accs.append((correct & counted).sum(0).double() / counted.sum(0))
    return float(torch.cat(accs).double().mean())


def oneshot_metrics(x: np.ndarray, labels: np.ndarray, holdout: tuple[int, ...], cfg: EvaluateConfig,
                    seed: int) -> dict:
    """10-way one-shot accuracy, and N-way on the held-out classes (None without any)."""
    all_classes = tuple(int(c) for c in np.unique(labels))
    row = {"oneshot_all_acc": oneshot_accuracy(x, labels, all_classes,
                                               oneshot_supports(labels, all_classes, cfg.episodes, seed))}
    row["oneshot_holdout_acc"] = None if not holdout else oneshot_accuracy(
        x, labels, holdout, oneshot_supports(labels, holdout, cfg.episodes, seed))
    return row


def evaluate_epoch(fit: np.ndarray, fit_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray,
                   pairs: np.ndarray, same: np.ndarray, cfg: EvaluateConfig, seed: int,
                   holdout: tuple[int, ...] = ()) -> tuple[dict, Pipeline]:
    """All metrics of one epoch's embeddings, and the fitted logistic regression."""
    pipe = fit_logreg(fit, fit_labels, cfg.logreg_c)
    row = {
        "logreg_acc": float(pipe.score(test, test_labels)),
        "knn_acc": knn_accuracy(fit, fit_labels, test, test_labels, cfg.knn_k),
        "silhouette": silhouette(test, test_labels, cfg.silhouette_samples, seed),
    }
    row.update(verification(test, pairs, same))
    row.update(retrieval(test, test_labels))
    row.update(oneshot_metrics(test, test_labels, holdout, cfg, seed))
    return row, pipe


@dataclass
class RunReport:
    """What the evaluate stage writes: the per-epoch table and the final epoch's probe, ROC and predictions."""

    table: pd.DataFrame  # one row per dumped epoch
    logreg: dict  # the final logistic regression, as plain numbers (predict_logreg)
    threshold: float  # the final embedding's best "same if distance <= threshold" cut
    roc: pd.DataFrame  # fpr, tpr, threshold of the final embedding's verification ROC
    predictions: pd.DataFrame  # actual, predicted class of every test image by the final logistic regression


def evaluate_run(emb: dict[str, np.ndarray], cfg: EvaluateConfig, seed: int, holdout: tuple[int, ...] = (),
                 desc: str = "evaluate") -> RunReport:
    """Score every epoch of an embeddings dump.

    ``emb``: ``fit`` (E+1, M, D), ``fit_labels`` (M,), ``test`` (E+1, N, D), ``test_labels`` (N,).
    Verification uses N fixed, balanced test pairs drawn from the test labels and ``seed``.
    """
    test_labels = emb["test_labels"]
    pairs, same = make_test_pairs(test_labels, len(test_labels), seed)
    rows, pipe = [], None
    for epoch in tqdm(range(emb["test"].shape[0]), desc=desc, leave=False):
        row, pipe = evaluate_epoch(emb["fit"][epoch], emb["fit_labels"], emb["test"][epoch], test_labels,
                                   pairs, same, cfg, seed, holdout)
        rows.append({"epoch": epoch, **row})
    final = emb["test"][-1]
    _, fpr, tpr, thr = verification_roc(final, pairs, same)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.where(np.isfinite(thr), -thr, np.nan)})
    predictions = pd.DataFrame({"actual": test_labels.astype(int), "predicted": pipe.predict(final).astype(int)})
    return RunReport(pd.DataFrame(rows), logreg_params(pipe), rows[-1]["threshold"], roc, predictions)
