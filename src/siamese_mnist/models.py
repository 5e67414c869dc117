"""The embedding network and the two models built on it."""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig


class EmbeddingNet(nn.Module):
    """2 conv + 2 fully connected layers: (B, 1, 28, 28) float -> (B, embedding_dim) float.

    The last layer is linear with no ReLU: a ReLU would fold the 2-D plane into one quadrant.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c1, c2 = cfg.conv_channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 5, bias=False), nn.BatchNorm2d(c1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 12x12
            nn.Conv2d(c1, c2, 5, bias=False), nn.BatchNorm2d(c2), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 4x4
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(c2 * 4 * 4, cfg.hidden), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden, cfg.embedding_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class CNN(nn.Module):
    """Classifier whose 10-way output is a linear map of the 2-D bottleneck (no non-linearity between)."""

    def __init__(self, cfg: ModelConfig, num_classes: int = 10):
        super().__init__()
        self.embedding = EmbeddingNet(cfg)
        self.classifier = nn.Linear(cfg.embedding_dim, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) -> (B, num_classes) logits."""
        return self.classifier(self.embedding(x))


class Siamese(nn.Module):
    """One shared tower applied to both images of a pair."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embedding = EmbeddingNet(cfg)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two (B, 1, 28, 28) batches -> two (B, D) embeddings.

        Both halves go through the tower as one (2B, ...) batch: same weights, one pass, and
        batch-norm statistics computed over both sides of every pair alike.
        """
        e = self.embedding(torch.cat([a, b]))
        return e[: len(a)], e[len(a):]


def build_model(name: str, cfg: ModelConfig) -> nn.Module:
    if name == "cnn":
        return CNN(cfg)
    if name == "siamese":
        return Siamese(cfg)
    raise ValueError(f"unknown model {name!r}")
