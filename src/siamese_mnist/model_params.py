"""The per-model params sections (``cnn``, ``siamese``, ``triplet``): each model's own settings, each checking
its own ranges; ``config.Params`` holds one of each (and re-exports these classes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import ParamsError


@dataclass(frozen=True)
class PerModelConfig:
    """The settings every model's own section (``cnn``, ``siamese``, ``triplet``) has; each adds its own."""

    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    shift: int = 2  # random translation augmentation, in pixels (0 = off)
    # The order within each conv block (models.conv_block), a model's own choice like its learning rate:
    # conv_bn_relu_pool is the network trained before the choice existed.
    block: Literal["conv_bn_relu_pool", "conv_pool_bn_relu"] = "conv_bn_relu_pool"
    affine: float = 0.0  # Koch et al.'s affine distortions (rotation, shear, scale), their ranges times this; 0 = off
    # Vinyals et al. (2016): each training item turned by 0, 90, 180 or 270 degrees (drawn per item and epoch),
    # each turn of a class a class of its own (the CNN's outputs times 4; mining tells the turns apart)
    rotations: bool = False

    def validate(self, section: str) -> None:
        if self.batch_size < 1:
            raise ParamsError(f"{section}.batch_size: {self.batch_size} is out of range; allowed >= 1")
        if not self.lr > 0:
            raise ParamsError(f"{section}.lr: {self.lr} is out of range; allowed > 0")
        if self.weight_decay < 0:
            raise ParamsError(f"{section}.weight_decay: {self.weight_decay} is out of range; allowed >= 0")
        if not 0 <= self.shift <= 8:
            raise ParamsError(f"{section}.shift: {self.shift} is out of range; allowed 0..8")
        if not 0.0 <= self.affine <= 2.0:
            raise ParamsError(f"{section}.affine: {self.affine} is out of range; allowed 0..2 (1 = Koch et al.'s)")


@dataclass(frozen=True)
class CnnConfig(PerModelConfig):
    pass


@dataclass(frozen=True)
class SiameseConfig(PerModelConfig):
    margin: float = 1.0
    shift: int = 3
    per_epoch: int | float | None = 2.0  # images per training image (float), pairs per epoch (int), None = 2.0
    positive_fraction: float = 0.5
    mining: Literal["none", "hard"] = "none"  # hard: each image's farthest positive, nearest negative in the batch

    def validate(self, section: str) -> None:
        super().validate(section)
        if not self.margin > 0:
            raise ParamsError(f"{section}.margin: {self.margin} is out of range; allowed > 0")
        _check_per_epoch(section, self.per_epoch, 2)
        if not 0.0 < self.positive_fraction < 1.0:
            raise ParamsError(f"{section}.positive_fraction: {self.positive_fraction} is out of range; allowed (0, 1)")


@dataclass(frozen=True)
class TripletConfig(PerModelConfig):
    margin: float = 1.0
    mining: Literal["none", "semihard", "hardest"] = "none"  # online negative mining within each batch
    shift: int = 3
    per_epoch: int | float | None = 2.0  # images per training image (float), triplets (int), None = 3.0

    def validate(self, section: str) -> None:
        super().validate(section)
        if not self.margin > 0:
            raise ParamsError(f"{section}.margin: {self.margin} is out of range; allowed > 0")
        _check_per_epoch(section, self.per_epoch, 1)


def _check_per_epoch(section: str, per_epoch: int | float | None, least: int) -> None:
    """An item count (int >= ``least``), images through the tower per training image (float in (0, 100]), or null."""
    if isinstance(per_epoch, float) and not 0.0 < per_epoch <= 100.0:
        raise ParamsError(f"{section}.per_epoch: {per_epoch} is out of range; a float (images per training image) "
                          f"must lie in (0, 100]")
    if isinstance(per_epoch, int) and per_epoch < least:
        raise ParamsError(f"{section}.per_epoch: {per_epoch} is out of range; allowed >= {least}, a float, or null")
