"""Side-by-side performance figures of the training path, in one process on one machine.

    .venv/bin/pip install -e '.[bench]'   # torchvision, for the textbook reference path it compares with
    python benchmarks/bench.py [--quick] [--json PATH]

Finds MNIST the way the download stage does ($MNIST_MIRROR first, then the public mirrors), or
reuses data/raw when the pipeline already downloaded it. Prints a table and writes a JSON whose
top-level keys are listed in KEYS; a figure it cannot measure is null with the reason under "notes".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from siamese_mnist.config import MODELS, ModelConfig, Params, TripletConfig  # noqa: E402
from siamese_mnist.datasets.fetch import download, sources_for  # noqa: E402
from siamese_mnist.datasets.splits import load_split  # noqa: E402
from siamese_mnist.evaluation import evaluate_epoch  # noqa: E402
from siamese_mnist.losses import batch_triplet_loss, contrastive_loss  # noqa: E402
from siamese_mnist.models import MODEL_CLASSES, build_model  # noqa: E402
from siamese_mnist.pairs import make_epoch_pairs, make_test_pairs  # noqa: E402
from siamese_mnist.runtime import cpu_features, cpu_name, native_bf16, resolve_device, set_threads, tune_malloc
from siamese_mnist.training import (  # noqa: E402
    Normalizer,
    Schedule,
    TrainingData,
    embed,
    epoch_offsets,
    shift_images,
    to_device_images,
    train,
)

KEYS = ["speedup_vs_naive_cnn", "speedup_vs_naive_siamese", "speedup_vs_naive_triplet", "overhead_fraction",
        "siamese_cnn_epoch_ratio", "triplet_cnn_epoch_ratio", "flops_fraction_of_matmul", "bf16_speedup",
        "default_run_estimate_s", "default_precision", "default_run_estimate_fp32_s",
        "default_run_estimate_bf16_s", "matmul_bound_run_s", "estimate_over_matmul_bound", "op_profile",
        "op_profile_relu_before_pool", "block_images_per_s", "default_run_estimate_by_block_s", "pairs_build_s",
        "peak_rss_mb", "noop_repro_s", "render_rerun_s", "device", "cpu", "cpu_features", "torch_version"]
PER_ITEM = {m: MODEL_CLASSES[m].images_per_item for m in MODELS}  # images per training item
MODEL = ModelConfig()  # the default architecture
BATCH = 256


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


# --- the project's own path -------------------------------------------------------------------------

def _config(name: str):
    return type(Params().section(name))(batch_size=BATCH)


def _index(name: str, labels: np.ndarray, epochs: int) -> dict:
    """The model's index file for ``epochs`` epochs of len(labels) items (triplets: one per image too)."""
    cfg = TripletConfig(batch_size=BATCH, per_epoch=len(labels)) if name == "triplet" else _config(name)
    return MODEL_CLASSES[name].sample(labels, epochs, cfg, 0, np.arange(len(labels)))


def project_epoch_s(name: str, images: np.ndarray, labels: np.ndarray, device: torch.device, epochs: int,
                    amp: bool = False, model: nn.Module | None = None) -> float:
    """Median seconds of one training epoch of len(images) items through training.train (no embedding dumps),
    of ``model`` (default: the default architecture)."""
    torch.manual_seed(0)
    x, y = to_device_images(images, device), torch.from_numpy(labels).to(device)
    cfg = _config(name)
    index = _index(name, labels, epochs)
    data = TrainingData(x, y, index["items"], index.get("targets"), Normalizer.fit(images), {})
    model = build_model(name, MODEL, cfg) if model is None else model
    state = train(name, model, data, cfg, Schedule(epochs, 0, 4096, amp))
    return statistics.median(h["seconds"] for h in state.history[1:] or state.history)


# --- where a training step's time goes, and the conv block's order -----------------------------------

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
    make_model = make_model or (lambda: build_model(name, MODEL, _config(name)))
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
    variants = {"relu_before_pool": lambda: relu_before_pool(build_model(name, MODEL, _config(name))),
                "conv_bn_relu_pool": lambda: build_model(name, MODEL, _config(name)),
                "conv_pool_bn_relu": lambda: build_model(name, MODEL, replace(_config(name), block="conv_pool_bn_relu"))}
    times: dict[str, list[float]] = {k: [] for k in variants}
    keys = list(variants)
    for i in range(rounds):
        for key in keys[i % len(keys):] + keys[:i % len(keys)]:
            times[key].append(project_epoch_s(name, images, labels, device, 1, amp, variants[key]()))
    return {k: per * len(labels) / statistics.median(v) for k, v in times.items()}


def data_path_s(name: str, images: np.ndarray, labels: np.ndarray, device: torch.device, reps: int = 3) -> float:
    """Median seconds of one epoch's data path alone, as training.train runs it (index gather, shift
    augmentation, normalisation, batch by batch), without the model: what the epoch spends outside compute."""
    x = to_device_images(images, device)
    norm, cfg = Normalizer.fit(images), _config(name)
    items = torch.from_numpy(np.ascontiguousarray(_index(name, labels, 1)["items"][0])).to(device).long()
    offsets = epoch_offsets(items.shape[0], items.shape[1], cfg, 0, 1).to(device)
    times = []
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        for start in range(0, items.shape[0], BATCH):
            batch = items[start:start + BATCH]
            off = offsets[start:start + BATCH].transpose(0, 1).reshape(-1, 2)
            norm(shift_images(x[batch.T.reshape(-1)], off, cfg.shift))
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compute_only_s(name: str, n_items: int, device: torch.device) -> float:
    """Seconds for forward + backward + optimizer over the same number of steps, batches premade."""
    torch.manual_seed(0)
    model = build_model(name, MODEL).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    per = PER_ITEM[name]
    x = torch.randn(per * BATCH, 1, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (BATCH,), device=device)
    steps = -(-n_items // BATCH)

    def step():
        if name == "siamese":
            ea, eb = model.pair(x[:BATCH], x[BATCH:])
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


# --- the naive reference path -----------------------------------------------------------------------

def naive_epoch_s(name: str, raw: Path, n_items: int, device: torch.device) -> float:
    """One epoch the textbook way: torchvision Dataset + ToTensor/Normalize + per-item pair sampling + DataLoader."""
    from torchvision import datasets, transforms

    tmp = tempfile.TemporaryDirectory(prefix="bench-tv-")  # removed when this function returns
    root = Path(tmp.name)
    (root / "MNIST" / "raw").mkdir(parents=True)
    for f in raw.iterdir():
        os.symlink(f.resolve(), root / "MNIST" / "raw" / f.name)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    mnist = datasets.MNIST(str(root), train=True, download=False, transform=tf)
    by_class = {}
    for i, t in enumerate(mnist.targets.tolist()):
        by_class.setdefault(t, []).append(i)

    class PairDataset(torch.utils.data.Dataset):
        def __len__(self):
            return n_items

        def __getitem__(self, i):  # the pattern the references use: global RNG, per item
            a, la = mnist[random.randrange(len(mnist))]
            if random.random() < 0.5:
                j = random.choice(by_class[la])
            else:
                j = random.choice(by_class[random.choice([c for c in by_class if c != la])])
            b, lb = mnist[j]
            return a, b, int(la == lb)

    class TripletDataset(torch.utils.data.Dataset):
        def __len__(self):
            return n_items

        def __getitem__(self, i):  # anchor, positive of its class, negative of another: global RNG, per item
            a, la = mnist[random.randrange(len(mnist))]
            p, _ = mnist[random.choice(by_class[la])]
            n, _ = mnist[random.choice(by_class[random.choice([c for c in by_class if c != la])])]
            return a, p, n

    ds = {"siamese": PairDataset, "triplet": TripletDataset}.get(name, lambda: torch.utils.data.Subset(
        mnist, range(n_items)))()
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=0)
    model = build_model(name, MODEL).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sync(device)
    t0 = time.perf_counter()
    for batch in loader:
        if name == "siamese":
            a, b, s = (t.to(device) for t in batch)
            ea, eb = model.pair(a, b)
            loss = contrastive_loss(ea, eb, s, 1.0)
        elif name == "triplet":
            a, p, n = (t.to(device) for t in batch)
            ea, ep, en = model.slots(model(torch.cat([a, p, n])))
            loss = F.triplet_margin_loss(ea, ep, en, margin=1.0)
        else:
            xb, yb = (t.to(device) for t in batch)
            loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - t0


# --- FLOPs ------------------------------------------------------------------------------------------

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


# --- pairs ------------------------------------------------------------------------------------------

def naive_pairs_s(labels: np.ndarray, n: int) -> float:
    """A per-pair Python loop (the pattern vectorised away), for n pairs."""
    by_class = {c: np.flatnonzero(labels == c).tolist() for c in range(10)}
    rng = random.Random(0)
    t0 = time.perf_counter()
    out = []
    for i in range(n):
        a = rng.randrange(len(labels))
        la = int(labels[a])
        if i % 2 == 0:
            b = rng.choice(by_class[la])
            while b == a:
                b = rng.choice(by_class[la])
        else:
            b = rng.choice(by_class[rng.choice([c for c in range(10) if c != la])])
        out.append((a, b))
    return time.perf_counter() - t0


# --- whole-stage figures ----------------------------------------------------------------------------

def stage_peak_rss_mb(name: str, quick: bool) -> float:
    """Peak RSS (MB) of the real `train@<name>` stage, run as a child process at the default data size
    (55 000 training images, every dump set) for one epoch; ``quick`` shortens that epoch's items."""
    import yaml
    holder = tempfile.TemporaryDirectory(prefix="bench-rss-")
    tmp = Path(holder.name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["epochs"] = 1
    params["render"]["epochs"] = [0, 1]
    if quick and name != "cnn":
        params[name]["per_epoch"] = 2048  # fewer steps; the data, the model and the dumps are full size
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    raw = raw_dir()
    env = {**os.environ, "TQDM_DISABLE": "1"}
    subprocess.run([sys.executable, str(ROOT / "stages/sample.py"), name, str(raw), str(tmp / "p.npz"),
                    "--params", str(tmp / "params.yaml")], check=True, env=env, capture_output=True)
    subprocess.run([sys.executable, str(ROOT / "stages/train.py"), name, str(raw), str(tmp / "p.npz"),
                    "--model-out", str(tmp / "m.pt"), "--embeddings-out", str(tmp / "e.npz"),
                    "--live-dir", str(tmp / "live"), "--runtime-out", str(tmp / "r.json"),
                    "--resume-point", str(tmp / "c.pt"), "--params", str(tmp / "params.yaml")],
                   check=True, env=env, capture_output=True)
    return json.loads((tmp / "r.json").read_text())["peak_rss_mb"]


def fixed_costs_s(device: torch.device) -> dict:
    """Per-epoch costs besides training, at the default sizes: the train stage's embedding dumps
    (10 000 probe + 5 000 validation + 10 000 test images) and the evaluate stage's work on them."""
    p = Params()
    model = build_model("siamese", MODEL).to(device).to(memory_format=torch.channels_last)
    x = torch.randint(0, 256, (25_000, 1, 28, 28), dtype=torch.uint8, device=device)
    t0 = time.perf_counter()
    embed(model, x, Normalizer(0.13, 0.31), p.train.eval_batch_size)
    dump = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (10, 2))
    split = {}
    for key, size in (("fit", 10_000), ("val", 5_000), ("test", 10_000)):
        y = np.arange(size) % 10
        split[key], split[f"{key}_labels"] = (centres[y] + rng.normal(0, 1, (size, 2)))[None], y
    t0 = time.perf_counter()
    evaluate_epoch(split, 0, make_test_pairs(split["val_labels"], 5_000, 0),
                   make_test_pairs(split["test_labels"], 10_000, 0), p.evaluate, 0)
    return {"dump_s_per_epoch": dump, "evaluate_s_per_epoch": time.perf_counter() - t0}


def dvc_timings(notes: dict) -> tuple[float | None, float | None]:
    """Wall time of a no-op `dvc repro` and of a forced render-only rerun, on this checkout's outputs."""
    dvc = [sys.executable, "-m", "dvc"]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    status = subprocess.run(dvc + ["status", "--json"], cwd=ROOT, env=env, capture_output=True, text=True)
    if status.returncode != 0 or status.stdout.strip() not in ("{}", ""):
        notes["noop_repro_s"] = notes["render_rerun_s"] = \
            "the pipeline is not up to date in this checkout: run `dvc repro` (or `dvc pull`) first"
        return None, None
    t0 = time.perf_counter()
    subprocess.run(dvc + ["repro"], cwd=ROOT, env=env, check=True, capture_output=True)
    noop = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(dvc + ["repro", "-f", "-s", "render"], cwd=ROOT, env=env, check=True, capture_output=True)
    return noop, time.perf_counter() - t0


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="6000-item epochs and shorter stage runs (memory still at the default data size)")
    ap.add_argument("--json", default="bench-results/bench.json")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--skip-dvc", action="store_true", help="skip the no-op repro / render rerun timings")
    ap.add_argument("--profile", action="store_true", help="also print a torch.profiler table of a Siamese epoch")
    args = ap.parse_args()
    t_start = time.perf_counter()
    tune_malloc()  # as every stage does (runtime.run_stage)
    set_threads(0)
    device = resolve_device(args.device)
    raw = raw_dir()
    images, labels = load_split(raw, "train")
    n = 6000 if args.quick else 60000
    n_naive = 3000 if args.quick else 20000
    images, labels = images[:n], labels[:n]
    notes: dict[str, str] = {}
    r: dict = {"device": str(device), "cpu": cpu_name(), "cpu_features": cpu_features(),
               "torch_version": torch.__version__, "threads": torch.get_num_threads(),
               "mode": "quick" if args.quick else "full", "items_per_epoch": n}

    epochs = 2 if args.quick else 3
    bf16 = native_bf16(device, r["cpu_features"]) if device.type == "cpu" else native_bf16(device)
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

    # Where a step's time goes, per model and precision; then the conv block's layouts side by side.
    n_prof, n_block = (2048, 6000) if args.quick else (6000, 12000)
    precisions = {"fp32": False, **({"bf16": True} if bf16 else {})}
    r["op_profile"] = {m: {k: op_profile(m, images[:n_prof], labels[:n_prof], device, amp)
                           for k, amp in precisions.items()} for m in MODELS}
    r["op_profile_relu_before_pool"] = {  # the same, for the block as it ran before: before and after in one run
        m: {"fp32": op_profile(m, images[:n_prof], labels[:n_prof], device, False,
                               lambda m=m: relu_before_pool(build_model(m, MODEL, _config(m))))} for m in MODELS}
    r["block_images_per_s"] = {m: {k: block_images_per_s(m, images[:n_block], labels[:n_block], device, amp)
                                   for k, amp in precisions.items()} for m in MODELS}
    notes["block_images_per_s"] = (f"{n_block}-item epochs, 3 rounds alternated, median; relu_before_pool = the "
                                   "default model as it ran before (same numbers); conv_pool_bn_relu = another model")

    fwd = forward_flops(build_model("siamese", MODEL))
    r["train_flops_per_image"] = 3 * fwd  # forward + backward ≈ 3 × forward
    achieved = 3 * fwd * r["siamese_images_per_s"]
    r["achieved_train_flops_per_s"] = achieved
    r["matmul_flops_per_s"] = matmul_flops(device)
    r["flops_fraction_of_matmul"] = achieved / r["matmul_flops_per_s"]
    if bf16:  # bfloat16 training against a bfloat16 matmul: the same precision on both sides
        r["matmul_bf16_flops_per_s"] = matmul_flops(device, dtype=torch.bfloat16)
        r["flops_fraction_of_matmul_bf16"] = 3 * fwd * r["siamese_bf16_images_per_s"] / r["matmul_bf16_flops_per_s"]

    _, full_labels = load_split(raw, "train")
    t0 = time.perf_counter()
    make_epoch_pairs(full_labels, 50, None, 0.5, seed=0)
    r["pairs_build_s"] = time.perf_counter() - t0
    naive_n = 60000 if args.quick else 60000 * 5
    r["naive_pairs_build_s_for_50_epochs"] = naive_pairs_s(full_labels, naive_n) * (50 * 60000 / naive_n)

    r["peak_rss_mb_by_model"] = {m: stage_peak_rss_mb(m, args.quick) for m in MODELS}
    r["peak_rss_mb"] = max(r["peak_rss_mb_by_model"].values())
    notes["peak_rss_mb"] = ("the real train stage at the default data size, one epoch"
                            + (" of 2048 items (quick)" if args.quick else "") + "; the largest of the three models")

    # The default run, estimated: every model's default epoch at the measured images/s, 50 epochs,
    # plus each epoch's embedding dumps and evaluation (measured at the default sizes) for 51 dumps.
    p = Params()
    default_images = {"cnn": 55_000, "siamese": 2 * 55_000, "triplet": 3 * p.triplet.per_epoch}
    fixed = fixed_costs_s(device)
    r.update(fixed)
    per_epoch_fixed = 3 * (fixed["dump_s_per_epoch"] + fixed["evaluate_s_per_epoch"])
    for key, suffix in (("default_run_estimate_fp32_s", ""), ("default_run_estimate_bf16_s", "_bf16")):
        if all(f"{m}{suffix}_images_per_s" in r for m in MODELS):
            train_s = sum(default_images[m] / r[f"{m}{suffix}_images_per_s"] for m in MODELS) * p.train.epochs
            r[key] = train_s + (p.train.epochs + 1) * per_epoch_fixed
        else:
            r[key] = None
    # What the default run would take at the matmul's rate: its training (3 x forward FLOPs per image) and its
    # embedding dumps (forward only), in the default precision; the estimate over it is the goal's ratio.
    dumped = 10_000 + 5_000 + 10_000
    flops = p.train.epochs * sum(default_images.values()) * 3 * fwd + (p.train.epochs + 1) * 3 * dumped * fwd
    r["matmul_bound_run_s"] = None
    r["estimate_over_matmul_bound"] = None
    # The default run trains in the precision train.amp's default (Params() = params.yaml, tested)
    # resolves to on this device; both estimates stay in the JSON.
    r["default_precision"] = "bf16" if (bf16 if p.train.amp == "auto" else p.train.amp) else "fp32"
    r["default_run_estimate_s"] = r[f"default_run_estimate_{r['default_precision']}_s"]
    notes["default_run_estimate_s"] = (f"in {r['default_precision']} (train.amp: {p.train.amp} on this device): "
                                       f"{p.train.epochs} epochs x (55 000 CNN images + 55 000 pairs + "
                                       f"{p.triplet.per_epoch} triplets) at the measured images/s, plus "
                                       f"{p.train.epochs + 1} x 3 embedding dumps and evaluations; download, "
                                       "sampling and plots (seconds) not included")
    # The same estimate from the side-by-side block timings: before (relu_before_pool), now, and the pool-first model.
    r["default_run_estimate_by_block_s"] = {
        block: sum(default_images[m] / r["block_images_per_s"][m][r["default_precision"]][block] for m in MODELS)
        * p.train.epochs + (p.train.epochs + 1) * per_epoch_fixed
        for block in r["block_images_per_s"]["cnn"][r["default_precision"]]} \
        if r["default_precision"] in r["block_images_per_s"]["cnn"] else None
    rate = r.get("matmul_bf16_flops_per_s") if r["default_precision"] == "bf16" else r["matmul_flops_per_s"]
    notes["matmul_bound_run_s"] = (f"the default run's training and dumps ({flops / 1e12:.0f} TFLOP) at the "
                                   f"{r['default_precision']} matmul's rate; goal: estimate_over_matmul_bound <= 1.5 "
                                   "(the estimate also holds the evaluations, which have no FLOPs in the bound)")
    if rate is None:  # train.amp: true on a device without native bf16: its bf16 matmul is not timed
        notes["matmul_bound_run_s"] += "; null: no bf16 matmul timed on this device"
    else:
        r["matmul_bound_run_s"] = flops / rate
        if r["default_run_estimate_s"] is not None:
            r["estimate_over_matmul_bound"] = r["default_run_estimate_s"] / r["matmul_bound_run_s"]
    if r["default_run_estimate_s"] is None:
        notes["default_run_estimate_s"] += "; null: bf16 was not timed, this device does not run it natively"
    if args.skip_dvc:
        r["noop_repro_s"] = r["render_rerun_s"] = None
        notes["noop_repro_s"] = notes["render_rerun_s"] = "skipped (--skip-dvc)"
    else:
        r["noop_repro_s"], r["render_rerun_s"] = dvc_timings(notes)
    r["bench_wall_s"] = time.perf_counter() - t_start
    r["notes"] = notes

    rows = [("device", r["device"]), ("cpu", f"{r['cpu']} ({' '.join(r['cpu_features'])})"),
            ("torch", r["torch_version"]), ("threads", r["threads"])]
    for name in MODELS:
        rows += [(f"{name} images/s (project, fp32)", f"{r[f'{name}_images_per_s']:.0f}")]
        if f"{name}_bf16_images_per_s" in r:
            rows += [(f"{name} images/s (project, bf16)", f"{r[f'{name}_bf16_images_per_s']:.0f}")]
        rows += [(f"{name} images/s (naive)", f"{r[f'naive_{name}_images_per_s']:.0f}"),
                 (f"speedup_vs_naive_{name}", f"{r[f'speedup_vs_naive_{name}']:.2f}x")]
    for k in ("overhead_fraction", "compute_only_fraction", "siamese_cnn_epoch_ratio", "triplet_cnn_epoch_ratio",
              "flops_fraction_of_matmul", "flops_fraction_of_matmul_bf16"):
        if k in r:
            rows.append((k, f"{r[k]:.3f}"))
    rows.append(("bf16_speedup", "null" if r["bf16_speedup"] is None else f"{r['bf16_speedup']:.2f}x"))
    rows.append(("default precision (train.amp default)", r["default_precision"]))
    for k in ("default_run_estimate_s", "default_run_estimate_fp32_s", "default_run_estimate_bf16_s",
              "matmul_bound_run_s"):
        rows.append((k, "null" if r[k] is None else f"{r[k]:.0f} ({r[k] / 60:.1f} min)"))
    rows.append(("estimate_over_matmul_bound", "null" if r["estimate_over_matmul_bound"] is None
                 else f"{r['estimate_over_matmul_bound']:.2f} (goal <= 1.5)"))
    for block, est in (r["default_run_estimate_by_block_s"] or {}).items():
        bound = "" if r["matmul_bound_run_s"] is None else f" = {est / r['matmul_bound_run_s']:.2f} x matmul-bound"
        rows.append((f"  from side-by-side timings, {block}", f"{est:.0f} s{bound}"))
    rows.append(("dump_s_per_epoch / evaluate_s_per_epoch",
                 f"{r['dump_s_per_epoch']:.2f} / {r['evaluate_s_per_epoch']:.2f} (per model, default sizes)"))
    rows += [("achieved train GFLOP/s", f"{achieved / 1e9:.1f}"),
             ("matmul GFLOP/s", f"{r['matmul_flops_per_s'] / 1e9:.1f}"),
             ("pairs_build_s (50 x 60000)", f"{r['pairs_build_s']:.2f}"),
             ("naive per-pair loop, 50 x 60000 (s)", f"{r['naive_pairs_build_s_for_50_epochs']:.1f}"),
             ("peak_rss_mb (train stages)", ", ".join(f"{m} {v:.0f}" for m, v in r["peak_rss_mb_by_model"].items()))]
    for k in ("noop_repro_s", "render_rerun_s"):
        rows.append((k, "null" if r[k] is None else f"{r[k]:.2f}"))
    rows.append(("bench wall time (s)", f"{r['bench_wall_s']:.0f}"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(profile_table(r["op_profile"]))
    print(profile_table(r["op_profile_relu_before_pool"], "... relu_before_pool"))
    print(block_table(r["block_images_per_s"]))
    for k, v in notes.items():
        print(f"note: {k}: {v}")
    if args.profile:
        print(profile_siamese(images, labels, device))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
