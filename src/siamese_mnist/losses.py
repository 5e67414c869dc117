"""Contrastive loss (Hadsell, Chopra & LeCun 2006) on Euclidean distance."""

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
