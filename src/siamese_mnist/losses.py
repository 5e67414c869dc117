"""Contrastive loss (Hadsell, Chopra & LeCun 2006) on Euclidean distance."""

from __future__ import annotations

import torch

EPS = 1e-12


def pair_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, D), (B, D) -> (B,) Euclidean distance, with a finite gradient at d = 0."""
    sq = (a - b).pow(2).sum(dim=1)
    # sqrt'(0) is infinite; clamping makes the gradient at coincident points exactly zero.
    return sq.clamp_min(EPS).sqrt()


def contrastive_loss(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """mean of ½·y·d² + ½·(1−y)·max(0, m − d)², y = 1 for a same-class pair."""
    y = same.to(a.dtype)
    sq = (a - b).pow(2).sum(dim=1)  # d² directly: exact at d = 0, no sqrt needed
    d = sq.clamp_min(EPS).sqrt()
    return (0.5 * y * sq + 0.5 * (1 - y) * (margin - d).clamp_min(0).pow(2)).mean()
