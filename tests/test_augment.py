"""Augmentation: translations and Koch et al.'s affine distortions, each drawn from (seed, epoch) alone."""

from __future__ import annotations

import math

import pytest
import torch

from siamese_mnist.augment import distort, epoch_affines, epoch_turns, shift_images, turn_images
from siamese_mnist.config import SiameseConfig


def test_shift_images_moves_pixels_and_zero_fills():
    x = torch.zeros(2, 1, 5, 5, dtype=torch.uint8)
    x[:, 0, 2, 2] = 255
    # offsets in [0, 2s]; s = 1: offset 1 is no move, 0 moves content down/right, 2 up/left
    out = shift_images(x, torch.tensor([[1, 1], [0, 2]]), 1)
    assert out[0, 0, 2, 2] == 255 and out[0].sum() == 255
    assert out[1, 0, 3, 1] == 255 and out[1].sum() == 255
    assert shift_images(x, torch.zeros(2, 2, dtype=torch.long), 0) is x


def test_shift_images_fills_with_the_background():
    x = torch.full((1, 1, 3, 3), 250, dtype=torch.uint8)  # a white page
    out = shift_images(x, torch.tensor([[0, 1]]), 1, fill=250)  # moved down one row
    assert torch.all(out == 250)
    assert shift_images(x, torch.tensor([[0, 1]]), 1)[0, 0, 0].tolist() == [0, 0, 0]  # default: black


def test_affine_matrices_are_seeded_identity_when_off_and_within_kochs_ranges():
    cfg = SiameseConfig(affine=1.0)
    a = epoch_affines(500, 2, cfg, seed=3, epoch=4)
    assert a.shape == (500, 2, 2, 3) and torch.equal(a, epoch_affines(500, 2, cfg, seed=3, epoch=4))
    assert not torch.equal(a, epoch_affines(500, 2, cfg, seed=3, epoch=5))
    assert (a[..., 2] == 0).all()  # translations are shift's, not affine's
    linear = torch.linalg.inv(a[..., :2].double())  # the distortion itself: rotation · shear · scale
    det = torch.linalg.det(linear)
    # scales 0.8..1.2, shears up to 0.3 each: |det| = sx·sy·(1 - shx·shy) within 0.64·0.91 .. 1.44·1.09
    assert det.min() >= 0.64 * 0.91 - 1e-6 and det.max() <= 1.44 * 1.09 + 1e-6
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    untouched = (a == identity).flatten(2).all(dim=2).float().mean().item()
    assert 0.0 < untouched < 0.1  # every one of the 5 components off: 1/32 of the images
    off = epoch_affines(10, 2, SiameseConfig(affine=0.0), seed=3, epoch=4)
    assert (off == identity).all()
    def first_column_angle(m):  # turned by the rotation and by shear y: at most 10° + atan(0.3) at affine = 1
        return torch.atan2(m[..., 1, 0], m[..., 0, 0]).abs().max().item()

    assert math.radians(10) < first_column_angle(linear) <= math.radians(10) + math.atan(0.3) + 1e-9
    half = torch.linalg.inv(epoch_affines(500, 2, SiameseConfig(affine=0.5), seed=3, epoch=4)[..., :2].double())
    assert first_column_angle(half) <= math.radians(5) + math.atan(0.15) + 1e-9  # the same draws, half the ranges


def test_distort_is_exact_at_identity_and_fills_with_the_background():
    x = torch.arange(25, dtype=torch.uint8).view(1, 1, 5, 5)
    same = distort(x, torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]))
    assert torch.allclose(same, x.float(), atol=1e-4)
    # the grid samples the input at twice the output's coordinates: the content shrinks to half, the rim is fill
    small = distort(torch.full((1, 1, 6, 6), 200, dtype=torch.uint8), torch.tensor([[[2.0, 0, 0], [0, 2.0, 0]]]),
                    fill=30)
    assert small[0, 0, 0, 0].item() == pytest.approx(30) and small[0, 0, 3, 3].item() == pytest.approx(200)


def test_turn_images_turns_each_image_by_its_own_quarter_turns():
    x = torch.tensor([[1, 2], [3, 4]], dtype=torch.uint8).view(1, 1, 2, 2).repeat(4, 1, 1, 1)
    out = turn_images(x, torch.tensor([0, 1, 2, 3]))
    # counter-clockwise quarter turns of 1 2 / 3 4: 2 4 / 1 3, then 4 3 / 2 1, then 3 1 / 4 2
    assert out[:, 0].tolist() == [[[1, 2], [3, 4]], [[2, 4], [1, 3]], [[4, 3], [2, 1]], [[3, 1], [4, 2]]]
    assert x[:, 0].tolist() == [[[1, 2], [3, 4]]] * 4  # the input is left as it was


def test_epoch_turns_are_drawn_from_seed_and_epoch_and_cover_every_turn():
    a = epoch_turns(4000, 0, 1)
    assert torch.equal(a, epoch_turns(4000, 0, 1))  # a resumed run draws the same
    assert not torch.equal(a, epoch_turns(4000, 0, 2)) and not torch.equal(a, epoch_turns(4000, 1, 1))
    assert a.bincount().tolist() == pytest.approx([1000] * 4, abs=100)  # uniform: 1000 ± 3 sd (sd = 27)
