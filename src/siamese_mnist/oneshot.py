"""Scores of the one-shot protocol (``data.dataset: omniglot``), where no class scored was ever trained on.

Nothing is fitted on the scored classes: every score is a nearest-neighbour rule on Euclidean distances. Chosen on
validation (whole held-out background alphabets), then applied to the test split: the verification threshold
(the gallery command's "unknown"). Reported per epoch:

- ``lake_error``: Lake et al.'s 20 runs (20-way, one-shot, within one alphabet; 400 trials), per cent wrong;
- ``way{N}_shot{K}_acc``: seeded N-way K-shot episodes over the whole evaluation set (each class's K supports
  averaged into a prototype, Snell et al. 2017; with K = 1 that is the nearest support; every other image of the
  episode's classes a query) — the easier protocols other papers report;
- ``map_at_r``, ``precision_at_1``, ``roc_auc``, ``pair_acc``: retrieval and verification on the evaluation set;
- ``transfer_acc``: 10-way one-shot on MNIST test digits (Koch et al. 2015's transfer test);
- on validation, what selection reads: ``val_oneshot_acc`` (20-way one-shot episodes), ``val_map_at_r``,
  ``val_roc_auc``.

Episodes depend on the labels, N, K and the seed alone, so every model and the raw pixels meet the same ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from .config import OmniglotConfig
from .evaluation import distances, pair_distances, retrieval, verification_roc
from .lake_runs import embedding_error
from .pairs import make_test_pairs
from .probe import best_threshold

VAL_WAY = 20  # validation episodes: 20-way one-shot, as the headline
TRANSFER_WAY = 10  # MNIST's ten digits


def episode_key(way: int, shot: int) -> str:
    return f"way{way}_shot{shot}_acc"


def headline(og: OmniglotConfig) -> tuple[str, ...]:
    """The final-epoch test figures that become DVC metrics."""
    episodes = tuple(episode_key(w, k) for w in og.ways for k in og.shots)
    return ("lake_error", *episodes, "map_at_r", "roc_auc", "transfer_acc")


HEADLINE_VAL = ("oneshot_acc", "map_at_r", "roc_auc")


def draw_episodes(labels: np.ndarray, way: int, shot: int, count: int,
                  seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` episodes, each (supports (way, shot), queries (q,)) as indices into ``labels``: ``way`` classes
    drawn among those with more than ``shot`` images, ``shot`` supports each, the rest of their images queries."""
    classes = np.unique(labels)
    classes = np.array([c for c in classes if np.count_nonzero(labels == c) > shot])
    if len(classes) < way:
        raise ValueError(f"{way}-way {shot}-shot episodes need {way} classes of {shot + 1}+ images; "
                         f"{len(classes)} have them")
    members = {int(c): np.flatnonzero(labels == c) for c in classes}
    rng = np.random.default_rng([seed, 5, way, shot])
    out = []
    for _ in range(count):
        picked = [rng.permutation(members[int(c)]) for c in rng.choice(classes, way, replace=False)]
        out.append((np.stack([m[:shot] for m in picked]), np.concatenate([m[shot:] for m in picked])))
    return out


def episode_accuracy(x: np.ndarray, labels: np.ndarray, episodes: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean over episodes of the share of queries whose nearest class prototype (mean of its supports) is theirs."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    accs = []
    for supports, queries in episodes:
        protos = xt[torch.from_numpy(supports.reshape(-1))].view(*supports.shape, -1).mean(dim=1)
        nearest = distances(xt[torch.from_numpy(queries)], protos).argmin(dim=1).numpy()
        accs.append(np.mean(labels[supports[nearest, 0]] == labels[queries]))
    return float(np.mean(accs))


class Protocol:
    """The seeded draws every epoch (and the pixels) is scored on, made once per labels."""

    def __init__(self, emb_labels: dict[str, np.ndarray], og: OmniglotConfig, episodes: int, seed: int):
        self.labels = emb_labels
        test, val = emb_labels["test"], emb_labels["val"]
        self.test_episodes = {(w, k): draw_episodes(test, w, k, episodes, seed) for w in og.ways for k in og.shots}
        way = min(VAL_WAY, len(np.unique(val)))
        self.val_episodes = draw_episodes(val, way, 1, episodes, seed)
        self.transfer_episodes = draw_episodes(emb_labels["transfer"], TRANSFER_WAY, 1, episodes, seed)
        self.val_pairs = make_test_pairs(val, len(val), seed)
        self.test_pairs = make_test_pairs(test, len(test), seed)

    def score(self, x: dict[str, np.ndarray], threshold: float | None = None) -> dict:
        """Every figure of one embedding (``x``: set name -> (N, D)); the threshold chosen on ``val`` unless given."""
        lab = self.labels
        if threshold is None:
            threshold, _ = best_threshold(pair_distances(x["val"], self.val_pairs[0]), self.val_pairs[1])
        d = pair_distances(x["test"], self.test_pairs[0])
        same = self.test_pairs[1].astype(bool)
        row = {"threshold": threshold, "lake_error": embedding_error(x["runs"], lab["runs"])}
        row.update({episode_key(w, k): episode_accuracy(x["test"], lab["test"], eps)
                    for (w, k), eps in self.test_episodes.items()})
        test_retrieval = retrieval(x["test"], lab["test"])
        row.update({"map_at_r": test_retrieval["map_at_r"], "precision_at_1": test_retrieval["precision_at_1"],
                    "roc_auc": float(roc_auc_score(same, -d)), "pair_acc": float(np.mean((d <= threshold) == same)),
                    "transfer_acc": episode_accuracy(x["transfer"], lab["transfer"], self.transfer_episodes)})
        dv = pair_distances(x["val"], self.val_pairs[0])
        row.update({"val_oneshot_acc": episode_accuracy(x["val"], lab["val"], self.val_episodes),
                    "val_map_at_r": retrieval(x["val"], lab["val"])["map_at_r"],
                    "val_roc_auc": float(roc_auc_score(self.val_pairs[1].astype(bool), -dv))})
        return row


def evaluate_oneshot_run(emb: dict[str, np.ndarray], og: OmniglotConfig, episodes: int, seed: int,
                         desc: str = "evaluate") -> tuple[pd.DataFrame, float, pd.DataFrame]:
    """(per-epoch table, final threshold, final test ROC) of an Omniglot embeddings dump: ``val``, ``test``,
    ``runs`` and ``transfer`` (E+1, N, D) with their ``<set>_labels``."""
    sets = ("val", "test", "runs", "transfer")
    protocol = Protocol({s: emb[f"{s}_labels"] for s in sets}, og, episodes, seed)
    rows = []
    for epoch in tqdm(range(emb["test"].shape[0]), desc=desc, leave=False):
        rows.append({"epoch": epoch, **protocol.score({s: emb[s][epoch].astype(np.float32) for s in sets})})
    fpr, tpr, thr = verification_roc(emb["test"][-1].astype(np.float32), *protocol.test_pairs)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.where(np.isfinite(thr), thr, np.nan)})
    return pd.DataFrame(rows), rows[-1]["threshold"], roc
