"""Metric-learning losses on Euclidean distance: contrastive (Hadsell, Chopra & LeCun 2006) and triplet margin
(Schroff, Kalenichenko & Philbin 2015), the latter optionally with semi-hard or hardest negatives mined in the batch,
the former optionally over each image's hardest pairs in the batch (batch-hard, Hermans, Beyer & Leibe 2017).
Written out (a few lines each, with hand-worked tests) rather than taken from pytorch-metric-learning, whose
contrastive loss is on distances, not their squares as the seed's is."""

from __future__ import annotations

import torch


def _safe_sqrt(sq: torch.Tensor) -> torch.Tensor:
    """sqrt that is exact everywhere and has gradient 0 (not inf/NaN) at 0."""
    pos = sq > 0
    return torch.where(pos, torch.where(pos, sq, torch.ones_like(sq)).sqrt(), torch.zeros_like(sq))


def pair_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, D), (B, D) -> (B,) Euclidean distance."""
    return _safe_sqrt((a - b).pow(2).sum(dim=1))


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """mean of ½·y·d² + ½·(1−y)·max(0, m − d)², y = 1 for a same-class pair; (B, D), (B, D), (B,) -> ()."""
    y = same.to(a.dtype)
    sq = (a - b).pow(2).sum(dim=1)  # d² directly for positives: no sqrt needed
    d = _safe_sqrt(sq)
    return (0.5 * y * sq + 0.5 * (1 - y) * (margin - d).clamp_min(0).pow(2)).mean()


def batch_hard_contrastive_loss(x: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Contrastive loss on each image's hardest pairs within the batch: mean over the images of
    ½·d(farthest same-class image)² + ½·max(0, m − d(nearest other-class image))², a term left out where the
    batch holds no such image; (N, D), (N,) -> ()."""
    norms = x.pow(2).sum(dim=1)
    sq = (norms[:, None] + norms[None, :] - 2 * x @ x.T).clamp_min(0)  # (N, N) by one matmul, not an (N, N, D) cube
    same = labels[:, None] == labels[None, :]
    other = ~same
    same &= ~torch.eye(len(x), dtype=torch.bool, device=x.device)
    inf = torch.full_like(sq, float("inf"))
    far = torch.where(same, sq, -inf).max(dim=1).values  # -inf: no positive
    near = _safe_sqrt(torch.where(other, sq, inf).min(dim=1).values.clamp_max(torch.finfo(sq.dtype).max))
    pos = torch.where(same.any(dim=1), far, torch.zeros_like(far))
    neg = torch.where(other.any(dim=1), (margin - near).clamp_min(0).pow(2), torch.zeros_like(near))
    return 0.5 * (pos + neg).mean()


def triplet_loss(a: torch.Tensor, p: torch.Tensor, n: torch.Tensor, margin: float) -> torch.Tensor:
    """mean of max(0, d(a, p) − d(a, n) + m); three (B, D) batches -> ()."""
    return (pair_distance(a, p) - pair_distance(a, n) + margin).clamp_min(0).mean()


def mined_negative_distance(a: torch.Tensor, d_ap: torch.Tensor, a_labels: torch.Tensor,
                            candidates: torch.Tensor, c_labels: torch.Tensor, mining: str) -> torch.Tensor:
    """Per anchor, the distance to the negative that ``mining`` picks among ``candidates`` of other classes.

    ``hardest``: the closest negative. ``semihard``: the closest negative farther than the positive
    (d(a, n) > d(a, p)); where there is none, the farthest negative (as TensorFlow Addons does).
    (B, D), (B,), (B,), (C, D), (C,) -> (B,). One masked (B, C) distance matrix, no loop over anchors.
    """
    d = _safe_sqrt((a[:, None, :] - candidates[None, :, :]).pow(2).sum(dim=2))  # (B, C)
    neg = c_labels[None, :] != a_labels[:, None]
    inf = torch.full_like(d, float("inf"))
    hardest = torch.where(neg, d, inf).min(dim=1).values
    if mining == "hardest":
        return hardest
    if mining != "semihard":
        raise ValueError(f"unknown mining {mining!r}; known: none, semihard, hardest")
    semi = torch.where(neg & (d > d_ap[:, None]), d, inf).min(dim=1).values
    farthest = torch.where(neg, d, -inf).max(dim=1).values
    return torch.where(torch.isfinite(semi), semi, farthest)


def batch_triplet_loss(a: torch.Tensor, p: torch.Tensor, n: torch.Tensor, labels: torch.Tensor,
                       margin: float, mining: str = "none") -> torch.Tensor:
    """Triplet loss over a batch of (anchor, positive, negative) embeddings with their (B, 3) labels.

    ``mining="none"`` uses the given negatives; otherwise each anchor's negative is mined among
    all 3B embeddings of the batch that belong to another class.
    """
    if mining == "none":
        return triplet_loss(a, p, n, margin)
    d_ap = pair_distance(a, p)
    candidates = torch.cat([a, p, n])
    c_labels = torch.cat([labels[:, 0], labels[:, 1], labels[:, 2]])
    d_an = mined_negative_distance(a, d_ap, labels[:, 0], candidates, c_labels, mining)
    return (d_ap - d_an + margin).clamp_min(0).mean()
