"""The embedding network and the models built on it, one class per model.

Every model takes a batch of training *items* (an image, a pair or a triplet) as one image
batch laid out slot by slot, ``(k·B, 1, S, S)`` (S = 28 for MNIST) for ``k = images_per_item``: all first images,
then all second images, … . ``sample`` draws every epoch's items (the model's index file) and
``loss`` turns the forward output into the training loss. Adding a model means a class here, a
params section in ``config.py`` and ``params.yaml``, and its name in the ``models`` list of ``dvc.yaml``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, PerModelConfig
from .losses import batch_hard_contrastive_loss, batch_triplet_loss, contrastive_loss
from .pairs import make_epoch_pairs, make_epoch_singles, make_epoch_triplets


class EmbeddingNet(nn.Module):
    """2 conv + 2 fully connected layers: (B, 1, S, S) float -> (B, embedding_dim) float (S = 28 for MNIST).

    The last layer is linear with no ReLU: a ReLU would fold the 2-D plane into one quadrant.
    """

    def __init__(self, cfg: ModelConfig, image_size: int = 28, block: str = "conv_bn_relu_pool"):
        super().__init__()
        c1, c2 = cfg.conv_channels
        side = feature_side(image_size)
        self.features = nn.Sequential(*conv_block(block, 1, c1), *conv_block(block, c1, c2),  # 28 -> 12 -> 4
                                      nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(c2 * side * side, cfg.hidden), nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden, cfg.embedding_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def conv_block(block: str, c_in: int, c_out: int) -> list[nn.Module]:
    """One 5x5 valid convolution (no bias: batch-norm follows), batch-norm, ReLU and 2x2 max-pool, in the
    order ``block`` (the model's ``<model>.block`` param) names.

    ``conv_bn_relu_pool`` runs as conv, batch-norm, pool, ReLU: max-pool and ReLU commute exactly (ReLU is
    monotone), forward and backward bit for bit, and the ReLU passes then touch a quarter of the elements.
    ``conv_pool_bn_relu`` pools before batch-norm, a different model (batch-norm statistics over the pooled
    values), with every pass after the pool on a quarter of the elements: faster, chosen only on validation.
    """
    conv, pool, relu = nn.Conv2d(c_in, c_out, 5, bias=False), nn.MaxPool2d(2), nn.ReLU(inplace=True)
    if block == "conv_bn_relu_pool":
        return [conv, nn.BatchNorm2d(c_out), pool, relu]
    if block == "conv_pool_bn_relu":
        return [conv, pool, nn.BatchNorm2d(c_out), relu]
    raise ValueError(f"unknown block {block!r}")


def feature_side(image_size: int) -> int:
    """Side of the last feature map: each block is a 5x5 valid convolution, then a 2x2 max-pool."""
    side = image_size
    for _ in range(2):
        side = (side - 4) // 2
    if side < 1:
        raise ValueError(f"image size {image_size} is too small for two 5x5 conv + 2x2 pool blocks (>= 16)")
    return side


class EmbeddingModel(nn.Module):
    """A model whose training items hold ``images_per_item`` images, all through one shared tower.

    The images of a batch of items go through the tower as one batch: same weights, one pass, and
    batch-norm statistics computed over every slot alike.
    """

    images_per_item = 1

    def __init__(self, cfg: ModelConfig, section: PerModelConfig | None = None, image_size: int = 28,
                 num_classes: int = 10):
        super().__init__()
        self.embedding = EmbeddingNet(cfg, image_size, PerModelConfig.block if section is None else section.block)
        self.section = section

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x)

    def slots(self, out: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The forward output of a slot-by-slot batch, split back into one (B, ·) tensor per slot."""
        return out.chunk(self.images_per_item)

    @staticmethod
    def sample(labels: np.ndarray, epochs: int, section, seed: int, pool: np.ndarray) -> dict[str, np.ndarray]:
        """The index file: ``items`` (epochs, n, k) int32 indices into ``labels``, drawn from ``pool``
        (plus ``targets`` (epochs, n) where the loss needs them); epoch e depends on (seed, e) alone."""
        return {"items": make_epoch_singles(labels, epochs, seed, pool)}

    def loss(self, out: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
        """Training loss from ``forward`` output, the items' (B, k) class labels and their file targets."""
        raise NotImplementedError


class CNN(EmbeddingModel):
    """Classifier whose ``num_classes``-way output (4 × that under ``rotations``) is a linear map of the 2-D
    bottleneck (no non-linearity between)."""

    def __init__(self, cfg: ModelConfig, section: PerModelConfig | None = None, image_size: int = 28,
                 num_classes: int = 10):
        super().__init__(cfg, section, image_size)
        turns = 4 if getattr(section, "rotations", False) else 1  # augment.TURNS: each turn of a class its own class
        self.classifier = nn.Linear(cfg.embedding_dim, num_classes * turns)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B, num_classes) logits."""
        return self.classifier(self.embedding(x))

    def loss(self, out, labels, targets):
        return F.cross_entropy(out.float(), labels[:, 0].long())


class Siamese(EmbeddingModel):
    """Pairs through one shared tower, contrastive loss with margin ``siamese.margin``."""

    images_per_item = 2

    @staticmethod
    def sample(labels, epochs, section, seed, pool):
        items, same = make_epoch_pairs(labels, epochs, section.per_epoch, section.positive_fraction, seed, pool)
        return {"items": items, "targets": same}

    def pair(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Two (B, 1, S, S) batches -> two (B, D) embeddings."""
        return self.slots(self(torch.cat([a, b])))

    def loss(self, out, labels, targets):
        margin = getattr(self.section, "margin", 1.0)
        if getattr(self.section, "mining", "none") == "hard":  # out holds the first images, then the second
            return batch_hard_contrastive_loss(out.float(), labels.T.reshape(-1), margin)
        a, b = self.slots(out.float())
        return contrastive_loss(a, b, targets, margin)


class Triplet(EmbeddingModel):
    """(anchor, positive, negative) through one shared tower, triplet margin loss, optional negative mining."""

    images_per_item = 3

    @staticmethod
    def sample(labels, epochs, section, seed, pool):
        return {"items": make_epoch_triplets(labels, epochs, section.per_epoch, seed, pool)}

    def loss(self, out, labels, targets):
        a, p, n = self.slots(out.float())
        return batch_triplet_loss(a, p, n, labels, getattr(self.section, "margin", 1.0),
                                  getattr(self.section, "mining", "none"))


MODEL_CLASSES: dict[str, type[EmbeddingModel]] = {"cnn": CNN, "siamese": Siamese, "triplet": Triplet}


def build_model(name: str, cfg: ModelConfig, section: PerModelConfig | None = None, image_size: int = 28,
                num_classes: int = 10) -> EmbeddingModel:
    """The model ``name`` for (1, image_size, image_size) inputs; the CNN classifies ``num_classes`` classes."""
    if name not in MODEL_CLASSES:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_CLASSES)}")
    return MODEL_CLASSES[name](cfg, section, image_size, num_classes)
