"""Training-time augmentation, drawn from (seed, epoch) alone so a resumed run draws the same: random translations
(every model's ``shift``), Koch et al.'s (2015) affine distortions (its ``affine``) and Vinyals et al.'s (2016)
rotations as new classes (its ``rotations``: a quarter turn count per item, the item's classes becoming
``4 × class + turns``).

Koch et al. distort each training image by a rotation of up to ±10°, shears of up to ±0.3, scales of 0.8 to
1.2 and translations, each component drawn with probability 1/2; ``affine`` scales those ranges (1.0 = Koch's,
0 = none; translations are ``shift``'s). Applied on the uint8 batch before normalisation, filled with the
background level.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import PerModelConfig
from .runtime import derive_seed

ROTATION, SHEAR, SCALE = math.radians(10.0), 0.3, 0.2  # Koch et al.'s ranges at affine = 1


def shift_images(x: torch.Tensor, offsets: torch.Tensor, max_shift: int, fill: int = 0) -> torch.Tensor:
    """Translate each image by its own offset, filling with ``fill`` (the background: 0 for MNIST):
    (B, 1, H, W) uint8, (B, 2) in [0, 2s] -> same shape.

    One gather over a padded batch; no per-image Python.
    """
    if max_shift == 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=fill)
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def draw_offsets(n: int, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2 * max_shift + 1, (n, 2), generator=gen)




def epoch_offsets(n_items: int, k: int, cfg: PerModelConfig, seed: int, epoch: int) -> torch.Tensor:
    """This epoch's (items, k, 2) augmentation shift offsets, from (seed, epoch) alone.

    The items' order comes from the index file, already shuffled per epoch.
    """
    gen = torch.Generator().manual_seed(derive_seed(seed, epoch))
    return draw_offsets(n_items * k, cfg.shift, gen).view(n_items, k, 2)


def epoch_affines(n_items: int, k: int, cfg: PerModelConfig, seed: int, epoch: int) -> torch.Tensor:
    """This epoch's (items, k, 2, 3) affine matrices (``F.affine_grid``'s, in normalised coordinates), from
    (seed, epoch) alone; each component is applied to an image with probability 1/2."""
    gen = torch.Generator().manual_seed(derive_seed(seed, epoch, 2))
    n = n_items * k
    u = torch.rand(n, 5, generator=gen, dtype=torch.float64) * 2 - 1  # rotation, shear x, shear y, scale x, scale y
    on = torch.rand(n, 5, generator=gen, dtype=torch.float64) < 0.5
    u = torch.where(on, u, torch.zeros_like(u)) * cfg.affine
    angle, shear_x, shear_y = u[:, 0] * ROTATION, u[:, 1] * SHEAR, u[:, 2] * SHEAR
    scale_x, scale_y = 1 + u[:, 3] * SCALE, 1 + u[:, 4] * SCALE
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)  # (n, 2, 2)
    shear = torch.stack([torch.stack([torch.ones_like(shear_x), shear_x], 1),
                         torch.stack([shear_y, torch.ones_like(shear_y)], 1)], 1)
    scale = torch.diag_embed(torch.stack([scale_x, scale_y], 1))
    # the grid maps output to input coordinates: the inverse of rotate · shear · scale
    forward = rotation @ shear @ scale
    linear = torch.linalg.inv(forward)
    theta = torch.cat([linear, torch.zeros(n, 2, 1, dtype=torch.float64)], dim=2)
    return theta.float().view(n_items, k, 2, 3)


def distort(x: torch.Tensor, theta: torch.Tensor, fill: int = 0) -> torch.Tensor:
    """(B, 1, H, W) uint8 images, (B, 2, 3) affine matrices -> (B, 1, H, W) float32, bilinear, ``fill`` outside."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    moved = F.grid_sample(x.float() - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved + fill


TURNS = 4  # 0, 90, 180, 270 degrees: each a class of its own under ``rotations``


def epoch_turns(n_items: int, seed: int, epoch: int) -> torch.Tensor:
    """This epoch's (items,) quarter-turn counts in 0..3, one per item (every image of a pair or triplet turned
    alike, so a positive stays a positive), from (seed, epoch) alone."""
    gen = torch.Generator().manual_seed(derive_seed(seed, epoch, 3))
    return torch.randint(0, TURNS, (n_items,), generator=gen)


def turn_images(x: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """(B, 1, S, S) square images, (B,) quarter turns (counter-clockwise, ``torch.rot90``'s) -> same shape."""
    out = x.clone()
    for t in range(1, TURNS):
        pick = turns == t
        if pick.any():
            out[pick] = torch.rot90(x[pick], t, dims=(2, 3))
    return out
