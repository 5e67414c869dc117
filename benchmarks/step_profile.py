"""Where a training step's time goes, op category by op category (torch.profiler), and the conv block's
layouts side by side: the layout as it ran before (ReLU ahead of the pool), the default, and the pool-first
model."""

from __future__ import annotations

import statistics
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from siamese_mnist.config import MODELS
from siamese_mnist.models import build_model

from epoch_timing import project_epoch_s
from workload import MODEL, PER_ITEM, train_config


# Operator name fragments -> the category a step's time is reported under (first match wins).
OP_CATEGORIES = (("convolution", ("convolution", "conv2d")), ("batch_norm", ("batch_norm",)),
                 ("max_pool", ("max_pool",)), ("relu", ("relu", "threshold_backward", "clamp_min")),
                 ("linear", ("addmm", "aten::mm", "aten::bmm", "linear")), ("fill", ("fill_", "zero_")),
                 ("copy", ("copy_", "_to_copy", "contiguous")))


def op_category(op: str) -> str:
    return next((cat for cat, parts in OP_CATEGORIES if any(p in op for p in parts)), "other")


def op_profile(name: str, images: np.ndarray, labels: np.ndarray, device: torch.device,
               amp: bool = False, make_model=None) -> dict[str, float]:
    """Share of one training epoch's operator time per category (OP_CATEGORIES; "other": the optimizer's,
    the loss's and the data path's element-wise ops), from torch.profiler's self time of every aten op;
    ``make_model()`` builds the model (default: the default architecture)."""
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    make_model = make_model or (lambda: build_model(name, MODEL, train_config(name)))
    project_epoch_s(name, images, labels, device, 1, amp, make_model())  # warm-up: first-call allocations
    with profile(activities=acts) as prof:
        project_epoch_s(name, images, labels, device, 1, amp, make_model())
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    shares: dict[str, float] = {}
    for event in prof.key_averages():
        if event.key.startswith("aten::"):  # the ops themselves; module and optimizer ranges only nest them
            shares[op_category(event.key)] = shares.get(op_category(event.key), 0.0) + getattr(event, attr)
    total = sum(shares.values())
    return {cat: shares.get(cat, 0.0) / total for cat, _ in (*OP_CATEGORIES, ("other", ()))}


def relu_before_pool(model: nn.Module) -> nn.Module:
    """``model`` (model.block conv_bn_relu_pool) with each block run in the written order, as before the
    pool moved ahead of the ReLU: conv, batch-norm, ReLU, max-pool — the same numbers, ReLU on 4x the elements."""
    f = model.embedding.features
    kinds = [type(m).__name__ for m in f]
    if kinds != ["Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU"] * 2 + ["Flatten"]:
        raise ValueError(f"relu_before_pool: not a conv_bn_relu_pool tower ({', '.join(kinds)})")
    model.embedding.features = nn.Sequential(f[0], f[1], f[3], f[2], f[4], f[5], f[7], f[6], f[8])
    return model


def block_images_per_s(name: str, images: np.ndarray, labels: np.ndarray, device: torch.device, amp: bool,
                       rounds: int = 3) -> dict[str, float]:
    """Training images/s of the conv block's layouts, side by side: one epoch each per round, the order
    rotated round by round (so no layout always runs first), median over rounds."""
    per = PER_ITEM[name]
    variants = {"relu_before_pool": lambda: relu_before_pool(build_model(name, MODEL, train_config(name))),
                "conv_bn_relu_pool": lambda: build_model(name, MODEL, train_config(name)),
                "conv_pool_bn_relu": lambda: build_model(name, MODEL,
                                                         replace(train_config(name), block="conv_pool_bn_relu"))}
    times: dict[str, list[float]] = {k: [] for k in variants}
    keys = list(variants)
    for i in range(rounds):
        for key in keys[i % len(keys):] + keys[:i % len(keys)]:
            times[key].append(project_epoch_s(name, images, labels, device, 1, amp, variants[key]()))
    return {k: per * len(labels) / statistics.median(v) for k, v in times.items()}


def profile_steps(images: np.ndarray, labels: np.ndarray, device: torch.device, quick: bool, bf16: bool,
                  notes: dict) -> dict:
    """Where a step's time goes, per model and precision (fp32, and bf16 where ``bf16``), also for the block
    as it ran before; then the conv block's layouts side by side, in training images/s."""
    n_prof, n_block = (2048, 6000) if quick else (6000, 12000)
    precisions = {"fp32": False, **({"bf16": True} if bf16 else {})}
    r: dict = {}
    r["op_profile"] = {m: {k: op_profile(m, images[:n_prof], labels[:n_prof], device, amp)
                           for k, amp in precisions.items()} for m in MODELS}
    r["op_profile_relu_before_pool"] = {  # the same, for the block as it ran before: before and after in one run
        m: {"fp32": op_profile(m, images[:n_prof], labels[:n_prof], device, False,
                               lambda m=m: relu_before_pool(build_model(m, MODEL, train_config(m))))} for m in MODELS}
    r["block_images_per_s"] = {m: {k: block_images_per_s(m, images[:n_block], labels[:n_block], device, amp)
                                   for k, amp in precisions.items()} for m in MODELS}
    notes["block_images_per_s"] = (f"{n_block}-item epochs, 3 rounds alternated, median; relu_before_pool = the "
                                   "default model as it ran before (same numbers); conv_pool_bn_relu = another model")
    return r


def profile_siamese(images: np.ndarray, labels: np.ndarray, device: torch.device, top: int = 12) -> str:
    """torch.profiler table of one short Siamese epoch through the project path: where the time goes."""
    from torch.profiler import ProfilerActivity, profile
    n = min(len(images), 5120)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        project_epoch_s("siamese", images[:n], labels[:n], device, 1)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=top)


def profile_table(profiles: dict, title: str = "share of a training step's op time") -> str:
    """The per-op shares as a text table: one row per model and precision, one column per category."""
    cats = [c for c, _ in OP_CATEGORIES] + ["other"]
    lines = [title.ljust(18) + "".join(f"{c:>12}" for c in cats)]
    for m, by_precision in profiles.items():
        for k, shares in by_precision.items():
            lines.append(f"{m} {k}".ljust(18) + "".join(f"{shares[c]:>12.1%}" for c in cats))
    return "\n".join(lines)


def block_table(speeds: dict) -> str:
    """Images/s of each conv-block layout, with its ratio to the layout as it ran before (relu_before_pool)."""
    lines = ["training images/s by model.block".ljust(18) + "".join(f"{k:>26}" for k in next(iter(
        next(iter(speeds.values())).values())))]
    for m, by_precision in speeds.items():
        for k, v in by_precision.items():
            base = v["relu_before_pool"]
            lines.append(f"{m} {k}".ljust(18) + "".join(f"{x:>17.0f} ({x / base:.2f}x)" for x in v.values()))
    return "\n".join(lines)
