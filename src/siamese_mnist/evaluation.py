"""Scores of an embedding: linear separability, neighbourhoods, clustering, verification, retrieval, one-shot.

Every model is scored the same way on the same points, so the numbers compare fairly:
logistic regression and k-NN are fitted on the train-subset embeddings; whatever is chosen (the
regression's C, the verification threshold) is chosen on the validation split, then every metric is
computed on the validation and the test split alike. Verification uses the Euclidean distance of
fixed, balanced pairs of each split; retrieval ranks every other point of the split by Euclidean
distance; one-shot episodes are drawn from the split's labels and the seed alone, so every model
(and the raw-pixel baseline) meets the same episodes. The test split feeds back into nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score, roc_curve, silhouette_score
from sklearn.neighbors import KNeighborsClassifier
from tqdm import tqdm

from .config import EvaluateConfig
from .pairs import make_test_pairs
from .probe import best_threshold, logreg_params, select_logreg

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


# The final-epoch figures that become DVC metrics (test split, and what selection reads on validation);
# every metric of every epoch and both splits is in the per-epoch table.
HEADLINE = ("logreg_acc", "knn_acc", "roc_auc", "pair_acc", "map_at_r", "oneshot_all_acc", "oneshot_holdout_acc")
HEADLINE_HOLDOUT = ("holdout_map_at_r", "holdout_roc_auc")  # only where data.holdout_classes names classes
HEADLINE_VAL = ("logreg_acc", "roc_auc", "map_at_r")


def knn_accuracy(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, k: int) -> float:
    return float(KNeighborsClassifier(n_neighbors=k).fit(x_fit, y_fit).score(x_test, y_test))


def silhouette(x: np.ndarray, y: np.ndarray, samples: int, seed: int) -> float:
    """Silhouette on a seeded sample of points (the full score is quadratic in N)."""
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(silhouette_score(x, y, sample_size=min(samples, len(x)), random_state=seed))


def pair_distances(x: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(P,) float64 Euclidean distance of each pair of rows of ``x``."""
    return np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1).astype(np.float64)


def verification_roc(x: np.ndarray, pairs: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC of "same if distance <= t": (fpr, tpr, thresholds on distance)."""
    fpr, tpr, thr = roc_curve(same.astype(bool), -pair_distances(x, pairs))
    return fpr, tpr, -thr


def pair_scores(x: np.ndarray, pairs: np.ndarray, same: np.ndarray, threshold: float) -> dict:
    """ROC-AUC of -distance for same-class pairs, and the accuracy of "same if d <= threshold"."""
    d = pair_distances(x, pairs)
    y = same.astype(bool)
    return {"roc_auc": float(roc_auc_score(y, -d)), "pair_acc": float(np.mean((d <= threshold) == y))}


def distances(q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
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
        d = distances(xt[rows], xt)
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
        d = distances(xq, xs_all[sup.reshape(-1)]).view(len(q), e, n)
        correct = classes_t[d.argmin(dim=2)] == yq[:, None]  # (Q, e)
        counted = ~(qt[:, None, None] == sup[None]).any(dim=2)  # a support is not its own query
        accs.append((correct & counted).sum(0).double() / counted.sum(0))
    return float(torch.cat(accs).double().mean())


def oneshot_score(x: np.ndarray, labels: np.ndarray, classes: tuple[int, ...], cfg: EvaluateConfig,
                  seed: int) -> float | None:
    """One-shot accuracy over ``classes`` (those with a support and a query; None if fewer than 2).

    Every episode is N-way with all of them, or, when ``evaluate.oneshot_way`` is smaller, over
    that many classes drawn per episode (seeded, the same for every model).
    """
    classes = tuple(c for c in classes if np.count_nonzero(labels == c) >= 2)
    if len(classes) < 2:
        return None
    way = cfg.oneshot_way
    if way is None or way >= len(classes):
        return oneshot_accuracy(x, labels, classes, oneshot_supports(labels, classes, cfg.episodes, seed))
    rng = np.random.default_rng([seed, 4, *classes])
    accs = []
    for _ in range(cfg.episodes):
        pick = tuple(int(c) for c in np.sort(rng.choice(classes, way, replace=False)))
        supports = oneshot_supports(labels, pick, 1, int(rng.integers(2**31)))
        accs.append(oneshot_accuracy(x, labels, pick, supports))
    return float(np.mean(accs))


def oneshot_metrics(x: np.ndarray, labels: np.ndarray, holdout: tuple[int, ...], cfg: EvaluateConfig,
                    seed: int) -> dict:
    """One-shot accuracy over every class (10-way on MNIST), and over the held-out classes (None without any)."""
    all_classes = tuple(int(c) for c in np.unique(labels))
    return {"oneshot_all_acc": oneshot_score(x, labels, all_classes, cfg, seed),
            "oneshot_holdout_acc": oneshot_score(x, labels, tuple(holdout), cfg, seed) if holdout else None}


def holdout_metrics(x: np.ndarray, labels: np.ndarray, holdout: tuple[int, ...], seed: int) -> dict:
    """Retrieval MAP@R and verification ROC-AUC among the held-out classes' images alone (none without any):
    what the embedding does for classes no training stage saw. Both choose nothing (no probe, no threshold);
    the pairs are balanced and seeded like every split's, so every model and the pixels meet the same ones."""
    if not holdout:
        return {}
    keep = np.isin(labels, np.asarray(holdout, dtype=labels.dtype))
    xh, yh = x[keep], labels[keep]
    if len(np.unique(yh)) < 2:
        return {"holdout_map_at_r": None, "holdout_roc_auc": None}
    pairs, same = make_test_pairs(yh, len(yh), seed)
    return {"holdout_map_at_r": retrieval(xh, yh)["map_at_r"],
            "holdout_roc_auc": float(roc_auc_score(same.astype(bool), -pair_distances(xh, pairs)))}


def split_metrics(pipe: Pipeline, fit: np.ndarray, fit_labels: np.ndarray, x: np.ndarray, labels: np.ndarray,
                  pairs: tuple[np.ndarray, np.ndarray], threshold: float, cfg: EvaluateConfig, seed: int,
                  holdout: tuple[int, ...]) -> dict:
    """Every score of one split's embeddings, with the probe and the threshold already chosen."""
    row = {
        "logreg_acc": float(pipe.score(x, labels)),
        "knn_acc": knn_accuracy(fit, fit_labels, x, labels, cfg.knn_k),
        "silhouette": silhouette(x, labels, cfg.silhouette_samples, seed),
    }
    row.update(pair_scores(x, *pairs, threshold))
    row.update(retrieval(x, labels))
    row.update(oneshot_metrics(x, labels, holdout, cfg, seed))
    row.update(holdout_metrics(x, labels, holdout, seed))
    return row


def evaluate_epoch(emb: dict[str, np.ndarray], epoch: int, val_pairs: tuple[np.ndarray, np.ndarray],
                   test_pairs: tuple[np.ndarray, np.ndarray], cfg: EvaluateConfig, seed: int,
                   holdout: tuple[int, ...] = ()) -> tuple[dict, Pipeline]:
    """All metrics of one epoch's embeddings, and the logistic regression chosen on validation.

    Chosen on the validation split: the probe's C and the verification threshold. Then every metric
    is computed on both splits with those choices: ``val_<metric>`` and, unprefixed, the test split's.
    """
    fit, fit_labels = emb["fit"][epoch], emb["fit_labels"]
    val, val_labels = emb["val"][epoch], emb["val_labels"]
    pipe, c = select_logreg(fit, fit_labels, val, val_labels, cfg.logreg_c)
    threshold, _ = best_threshold(pair_distances(val, val_pairs[0]), val_pairs[1])
    row = {"logreg_c": c, "threshold": threshold}
    row.update(split_metrics(pipe, fit, fit_labels, emb["test"][epoch], emb["test_labels"], test_pairs,
                             threshold, cfg, seed, holdout))
    val_row = split_metrics(pipe, fit, fit_labels, val, val_labels, val_pairs, threshold, cfg, seed, holdout)
    row.update({f"val_{k}": v for k, v in val_row.items()})
    return row, pipe


@dataclass
class RunReport:
    """What the evaluate stage writes: the per-epoch table and the final epoch's probe, ROC and predictions."""

    table: pd.DataFrame  # one row per dumped epoch: test metrics unprefixed, validation ones as val_<metric>
    logreg: dict  # the final logistic regression (C chosen on validation), as plain numbers (probe.predict_logreg)
    threshold: float  # the final embedding's "same if distance <= threshold" cut, chosen on validation pairs
    roc: pd.DataFrame  # fpr, tpr, threshold of the final embedding's verification ROC on the test pairs
    predictions: pd.DataFrame  # actual, predicted class of every test image by the final logistic regression


def evaluate_run(emb: dict[str, np.ndarray], cfg: EvaluateConfig, seed: int, holdout: tuple[int, ...] = (),
                 desc: str = "evaluate") -> RunReport:
    """Score every epoch of an embeddings dump.

    ``emb``: ``fit`` (E+1, M, D) with ``fit_labels`` (M,), ``val`` (E+1, V, D) with ``val_labels`` (V,),
    ``test`` (E+1, N, D) with ``test_labels`` (N,). Verification uses fixed, balanced pairs drawn from
    each split's labels and ``seed``: V validation pairs (they choose the threshold) and N test pairs.
    """
    test_labels = emb["test_labels"]
    val_pairs = make_test_pairs(emb["val_labels"], len(emb["val_labels"]), seed)
    test_pairs = make_test_pairs(test_labels, len(test_labels), seed)
    rows, pipe = [], None
    for epoch in tqdm(range(emb["test"].shape[0]), desc=desc, leave=False):
        row, pipe = evaluate_epoch(emb, epoch, val_pairs, test_pairs, cfg, seed, holdout)
        rows.append({"epoch": epoch, **row})
    final = emb["test"][-1]
    fpr, tpr, thr = verification_roc(final, *test_pairs)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.where(np.isfinite(thr), thr, np.nan)})
    predictions = pd.DataFrame({"actual": test_labels.astype(int), "predicted": pipe.predict(final).astype(int)})
    return RunReport(pd.DataFrame(rows), logreg_params(pipe), rows[-1]["threshold"], roc, predictions)
