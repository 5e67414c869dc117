"""Training-epoch timings per model: the project's own path (training.train) in fp32 and bfloat16, its data
path alone and its compute alone, side by side with the textbook reference path (textbook.py); and the
build of an epoch's pairs, vectorised and per pair."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from siamese_mnist.augment import epoch_offsets, shift_images
from siamese_mnist.config import MODELS
from siamese_mnist.datasets.splits import load_split
from siamese_mnist.losses import batch_triplet_loss, contrastive_loss
from siamese_mnist.models import build_model
from siamese_mnist.pairs import make_epoch_pairs
from siamese_mnist.training import Normalizer, Schedule, TrainingData, to_device_images, train

import workload
from textbook import naive_epoch_s, naive_pairs_s
from workload import MODEL, PER_ITEM, epoch_index, sync, train_config


def project_epoch_s(name: str, images: np.ndarray, labels: np.ndarray, device: torch.device, epochs: int,
                    amp: bool = False, model: nn.Module | None = None) -> float:
    """Median seconds of one training epoch of len(images) items through training.train (no embedding dumps),
    of ``model`` (default: the default architecture)."""
    torch.manual_seed(0)
    x, y = to_device_images(images, device), torch.from_numpy(labels).to(device)
    cfg = train_config(name)
    index = epoch_index(name, labels, epochs)
    data = TrainingData(x, y, index["items"], index.get("targets"), Normalizer.fit(images), {})
    model = build_model(name, MODEL, cfg) if model is None else model
    state = train(name, model, data, cfg, Schedule(epochs, 0, 4096, amp))
    return statistics.median(h["seconds"] for h in state.history[1:] or state.history)


def data_path_s(name: str, images: np.ndarray, labels: np.ndarray, device: torch.device, reps: int = 3) -> float:
    """Median seconds of one epoch's data path alone, as training.train runs it (index gather, shift
    augmentation, normalisation, batch by batch), without the model: what the epoch spends outside compute."""
    x = to_device_images(images, device)
    norm, cfg = Normalizer.fit(images), train_config(name)
    items = torch.from_numpy(np.ascontiguousarray(epoch_index(name, labels, 1)["items"][0])).to(device).long()
    offsets = epoch_offsets(items.shape[0], items.shape[1], cfg, 0, 1).to(device)
    times, size = [], workload.BATCH
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        for start in range(0, items.shape[0], size):
            batch = items[start:start + size]
            off = offsets[start:start + size].transpose(0, 1).reshape(-1, 2)
            norm(shift_images(x[batch.T.reshape(-1)], off, cfg.shift))
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compute_only_s(name: str, n_items: int, device: torch.device) -> float:
    """Seconds for forward + backward + optimizer over the same number of steps, batches premade."""
    torch.manual_seed(0)
    model = build_model(name, MODEL).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    per, size = PER_ITEM[name], workload.BATCH
    x = torch.randn(per * size, 1, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (size,), device=device)
    steps = -(-n_items // size)

    def step():
        if name == "siamese":
            ea, eb = model.pair(x[:size], x[size:])
            loss = contrastive_loss(ea, eb, y % 2, 1.0)
        elif name == "triplet":
            a, p, n = model.slots(model(x))
            loss = batch_triplet_loss(a, p, n, y[:, None].repeat(1, 3), 1.0, "none")
        else:
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return time.perf_counter() - t0


def time_models(images: np.ndarray, labels: np.ndarray, n: int, raw: Path, device: torch.device, quick: bool,
                bf16: bool, notes: dict) -> dict:
    """Every model's training epoch of ``n`` items (``images`` is the first n of the training split): images/s
    through the project's path (and in bfloat16 autocast where ``bf16``: the device runs it natively), through
    the textbook path, and the shares of the epoch its data path and its compute take, timed apart."""
    n_naive = 3000 if quick else 20000
    epochs = 2 if quick else 3
    r: dict = {}
    compute, data = {}, {}
    for name in MODELS:
        per = PER_ITEM[name]
        ep = project_epoch_s(name, images, labels, device, epochs)
        r[f"{name}_images_per_s"] = per * n / ep
        r[f"{name}_epoch_s"] = ep
        if bf16:  # the same real training step in bfloat16 autocast, in the same run
            r[f"{name}_bf16_images_per_s"] = per * n / project_epoch_s(name, images, labels, device, epochs, amp=True)
        naive = naive_epoch_s(name, raw, n_naive, device)
        r[f"naive_{name}_images_per_s"] = per * n_naive / naive
        r[f"speedup_vs_naive_{name}"] = r[f"{name}_images_per_s"] / r[f"naive_{name}_images_per_s"]
        compute[name] = compute_only_s(name, n, device)
        data[name] = data_path_s(name, images, labels, device)
    # The data path, timed alone (repeated, median), as a share of the whole epoch: never negative.
    r["overhead_fraction"] = sum(data.values()) / sum(r[f"{m}_epoch_s"] for m in MODELS)
    r["compute_only_fraction"] = sum(compute.values()) / sum(r[f"{m}_epoch_s"] for m in MODELS)
    r["siamese_cnn_epoch_ratio"] = r["siamese_epoch_s"] / r["cnn_epoch_s"]
    r["triplet_cnn_epoch_ratio"] = r["triplet_epoch_s"] / r["cnn_epoch_s"]
    if bf16:
        r["bf16_speedup_by_model"] = {m: r[f"{m}_bf16_images_per_s"] / r[f"{m}_images_per_s"] for m in MODELS}
        r["bf16_speedup"] = statistics.median(r["bf16_speedup_by_model"].values())
    else:
        r["bf16_speedup"] = None
        notes["bf16_speedup"] = f"{device} has no native bfloat16 (CPU: AVX-512 BF16 or AMX; CUDA: >= 8.0)"
    return r


def time_pairs(raw: Path, quick: bool) -> dict:
    """Seconds to build 50 epochs of pairs over the whole training split with the project's sampler, and
    what the per-pair loop takes for as many (timed on fewer, scaled)."""
    _, full_labels = load_split(raw, "train")
    t0 = time.perf_counter()
    make_epoch_pairs(full_labels, 50, None, 0.5, seed=0)
    r = {"pairs_build_s": time.perf_counter() - t0}
    naive_n = 60000 if quick else 60000 * 5
    r["naive_pairs_build_s_for_50_epochs"] = naive_pairs_s(full_labels, naive_n) * (50 * 60000 / naive_n)
    return r
