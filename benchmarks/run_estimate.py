"""The default run, estimated from the measured figures: its training at the timed images/s plus its embedding
dumps and evaluations, and what it would take at the matmul's rate (its FLOPs, counted on the model, over a
timed matmul's FLOP/s)."""

from __future__ import annotations

import time

import torch
from torch import nn

from siamese_mnist.config import MODELS, Params
from siamese_mnist.models import build_model

from workload import MODEL, sync


def forward_flops(model: nn.Module) -> int:
    """Multiply-adds × 2 of the conv and linear layers for one 28×28 image, counted with forward hooks."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total += 2 * k * out.numel()
        elif isinstance(mod, nn.Linear):
            total += 2 * mod.in_features * mod.out_features * out.shape[0]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        model.eval()
        model.embed(torch.zeros(1, 1, 28, 28))
    for h in handles:
        h.remove()
    return total


def matmul_flops(device: torch.device, n: int = 2048, reps: int = 20, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def time_flops(r: dict, device: torch.device, bf16: bool) -> dict:
    """The Siamese network's training FLOPs per image, the FLOP/s its timed epoch (in ``r``) achieves, and that
    as a fraction of a timed matmul's FLOP/s, in fp32 (and bf16 where ``bf16``: the same precision on both sides)."""
    fwd = forward_flops(build_model("siamese", MODEL))
    f: dict = {"train_flops_per_image": 3 * fwd}  # forward + backward ≈ 3 × forward
    achieved = 3 * fwd * r["siamese_images_per_s"]
    f["achieved_train_flops_per_s"] = achieved
    f["matmul_flops_per_s"] = matmul_flops(device)
    f["flops_fraction_of_matmul"] = achieved / f["matmul_flops_per_s"]
    if bf16:  # bfloat16 training against a bfloat16 matmul: the same precision on both sides
        f["matmul_bf16_flops_per_s"] = matmul_flops(device, dtype=torch.bfloat16)
        f["flops_fraction_of_matmul_bf16"] = 3 * fwd * r["siamese_bf16_images_per_s"] / f["matmul_bf16_flops_per_s"]
    return f


def default_run_estimates(r: dict, bf16: bool, notes: dict) -> dict:
    """The default run's estimated seconds in fp32, bf16 and its default precision (and from the side-by-side
    block timings), its matmul bound and the estimate over it, from the figures measured in ``r``: images/s,
    dump and evaluation seconds per epoch, training FLOPs per image, matmul FLOP/s."""
    # Every model's default epoch at the measured images/s, 50 epochs, plus each epoch's embedding dumps and
    # evaluation (measured at the default sizes) for 51 dumps.
    p = Params()
    default_images = {"cnn": 55_000, "siamese": 2 * 55_000, "triplet": 3 * p.triplet.per_epoch}
    per_epoch_fixed = 3 * (r["dump_s_per_epoch"] + r["evaluate_s_per_epoch"])
    e: dict = {}
    for key, suffix in (("default_run_estimate_fp32_s", ""), ("default_run_estimate_bf16_s", "_bf16")):
        if all(f"{m}{suffix}_images_per_s" in r for m in MODELS):
            train_s = sum(default_images[m] / r[f"{m}{suffix}_images_per_s"] for m in MODELS) * p.train.epochs
            e[key] = train_s + (p.train.epochs + 1) * per_epoch_fixed
        else:
            e[key] = None
    # What the default run would take at the matmul's rate: its training (3 x forward FLOPs per image) and its
    # embedding dumps (forward only), in the default precision; the estimate over it is the goal's ratio.
    fwd = r["train_flops_per_image"] // 3
    dumped = 10_000 + 5_000 + 10_000
    flops = p.train.epochs * sum(default_images.values()) * 3 * fwd + (p.train.epochs + 1) * 3 * dumped * fwd
    e["matmul_bound_run_s"] = None
    e["estimate_over_matmul_bound"] = None
    # The default run trains in the precision train.amp's default (Params() = params.yaml, tested)
    # resolves to on this device; both estimates stay in the JSON.
    e["default_precision"] = "bf16" if (bf16 if p.train.amp == "auto" else p.train.amp) else "fp32"
    e["default_run_estimate_s"] = e[f"default_run_estimate_{e['default_precision']}_s"]
    notes["default_run_estimate_s"] = (f"in {e['default_precision']} (train.amp: {p.train.amp} on this device): "
                                       f"{p.train.epochs} epochs x (55 000 CNN images + 55 000 pairs + "
                                       f"{p.triplet.per_epoch} triplets) at the measured images/s, plus "
                                       f"{p.train.epochs + 1} x 3 embedding dumps and evaluations; download, "
                                       "sampling and plots (seconds) not included")
    # The same estimate from the side-by-side block timings: before (relu_before_pool), now, and the pool-first model.
    blocks = r["block_images_per_s"]
    e["default_run_estimate_by_block_s"] = {
        block: sum(default_images[m] / blocks[m][e["default_precision"]][block] for m in MODELS)
        * p.train.epochs + (p.train.epochs + 1) * per_epoch_fixed
        for block in blocks["cnn"][e["default_precision"]]} if e["default_precision"] in blocks["cnn"] else None
    rate = r.get("matmul_bf16_flops_per_s") if e["default_precision"] == "bf16" else r["matmul_flops_per_s"]
    notes["matmul_bound_run_s"] = (f"the default run's training and dumps ({flops / 1e12:.0f} TFLOP) at the "
                                   f"{e['default_precision']} matmul's rate; goal: estimate_over_matmul_bound <= 1.5 "
                                   "(the estimate also holds the evaluations, which have no FLOPs in the bound)")
    if rate is None:  # train.amp: true on a device without native bf16: its bf16 matmul is not timed
        notes["matmul_bound_run_s"] += "; null: no bf16 matmul timed on this device"
    else:
        e["matmul_bound_run_s"] = flops / rate
        if e["default_run_estimate_s"] is not None:
            e["estimate_over_matmul_bound"] = e["default_run_estimate_s"] / e["matmul_bound_run_s"]
    if e["default_run_estimate_s"] is None:
        notes["default_run_estimate_s"] += "; null: bf16 was not timed, this device does not run it natively"
    return e
