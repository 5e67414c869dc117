"""What every measurement of the bench shares: the models' images per item, the default architecture, the
batch, the MNIST files, the training section of each model, its index file, and waiting for the device."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from siamese_mnist.config import MODELS, ModelConfig, Params, TripletConfig
from siamese_mnist.datasets.fetch import download, sources_for
from siamese_mnist.models import MODEL_CLASSES

ROOT = Path(__file__).resolve().parents[1]
PER_ITEM = {m: MODEL_CLASSES[m].images_per_item for m in MODELS}  # images per training item
MODEL = ModelConfig()  # the default architecture
BATCH = 256  # every timed epoch's batch, read at call time: levers.py sets workload.BATCH to time others


def raw_dir() -> Path:
    local = ROOT / "data" / "raw"
    if (local / "train-images-idx3-ubyte").exists():
        return local
    out = Path(tempfile.mkdtemp(prefix="bench-mnist-")) / "raw"
    download("mnist", out, sources_for("mnist"))
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_config(name: str):
    """The model's training section (params.yaml's defaults) at the bench's batch size."""
    return type(Params().section(name))(batch_size=BATCH)


def epoch_index(name: str, labels: np.ndarray, epochs: int) -> dict:
    """The model's index file for ``epochs`` epochs of len(labels) items (triplets: one per image too)."""
    cfg = TripletConfig(batch_size=BATCH, per_epoch=len(labels)) if name == "triplet" else train_config(name)
    return MODEL_CLASSES[name].sample(labels, epochs, cfg, 0, np.arange(len(labels)))
