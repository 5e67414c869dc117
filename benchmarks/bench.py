"""Side-by-side performance figures of the training path, in one process on one machine.

    .venv/bin/pip install -e '.[bench]'   # torchvision, for the textbook reference path it compares with
    python benchmarks/bench.py [--quick] [--json PATH]

Finds MNIST the way the download stage does ($MNIST_MIRROR first, then the public mirrors), or
reuses data/raw when the pipeline already downloaded it. Prints a table and writes a JSON whose
top-level keys are listed in KEYS; a figure it cannot measure is null with the reason under "notes".
"""

# The measurements live beside this file, by concern: workload.py (what they share), epoch_timing.py (each
# model's epoch, its data path and compute apart, the pairs' build), textbook.py (the reference path),
# step_profile.py (the op profile and the conv block's layouts), run_estimate.py (FLOPs and the default run's
# estimate), stage_costs.py (peak memory, dumps and evaluation, dvc). Their functions are bench's names too.

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))  # the measurement modules beside this file, run as a script or not

import torch  # noqa: E402

from siamese_mnist.config import MODELS  # noqa: E402
from siamese_mnist.datasets.splits import load_split  # noqa: E402
from siamese_mnist.models import build_model  # noqa: E402, F401
from siamese_mnist.runtime import (cpu_features, cpu_name, native_bf16, resolve_device, set_threads,  # noqa: E402
                                   tune_malloc)

# Re-exported as well (F401): tests and probes use bench.op_profile, bench.PER_ITEM, bench.build_model, ...
from epoch_timing import compute_only_s, data_path_s, project_epoch_s, time_models, time_pairs  # noqa: E402, F401
from run_estimate import default_run_estimates, forward_flops, matmul_flops, time_flops  # noqa: E402, F401
from stage_costs import (dvc_figures, dvc_timings, fixed_costs_s, peak_rss_figures,  # noqa: E402, F401
                         stage_peak_rss_mb)
from step_profile import (OP_CATEGORIES, block_images_per_s, block_table, op_category,  # noqa: E402, F401
                          op_profile, profile_siamese, profile_steps, profile_table, relu_before_pool)
from textbook import naive_epoch_s, naive_pairs_s  # noqa: E402, F401
from workload import MODEL, PER_ITEM, raw_dir, sync  # noqa: E402, F401

KEYS = ["speedup_vs_naive_cnn", "speedup_vs_naive_siamese", "speedup_vs_naive_triplet", "overhead_fraction",
        "siamese_cnn_epoch_ratio", "triplet_cnn_epoch_ratio", "flops_fraction_of_matmul", "bf16_speedup",
        "default_run_estimate_s", "default_precision", "default_run_estimate_fp32_s",
        "default_run_estimate_bf16_s", "matmul_bound_run_s", "estimate_over_matmul_bound", "op_profile",
        "op_profile_relu_before_pool", "block_images_per_s", "default_run_estimate_by_block_s", "pairs_build_s",
        "peak_rss_mb", "noop_repro_s", "render_rerun_s", "device", "cpu", "cpu_features", "torch_version"]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="6000-item epochs and shorter stage runs (memory still at the default data size)")
    ap.add_argument("--json", default="bench-results/bench.json")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--skip-dvc", action="store_true", help="skip the no-op repro / render rerun timings")
    ap.add_argument("--profile", action="store_true", help="also print a torch.profiler table of a Siamese epoch")
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    t_start = time.perf_counter()
    tune_malloc()  # as every stage does (runtime.run_stage)
    set_threads(0)
    device = resolve_device(args.device)
    raw = raw_dir()
    images, labels = load_split(raw, "train")
    n = 6000 if args.quick else 60000
    images, labels = images[:n], labels[:n]
    notes: dict[str, str] = {}
    r: dict = {"device": str(device), "cpu": cpu_name(), "cpu_features": cpu_features(),
               "torch_version": torch.__version__, "threads": torch.get_num_threads(),
               "mode": "quick" if args.quick else "full", "items_per_epoch": n}
    bf16 = native_bf16(device, r["cpu_features"]) if device.type == "cpu" else native_bf16(device)

    # One measurement a line, in this order (the JSON keeps it): each adds its keys, and its notes to notes.
    r.update(time_models(images, labels, n, raw, device, args.quick, bf16, notes))
    r.update(profile_steps(images, labels, device, args.quick, bf16, notes))
    r.update(time_flops(r, device, bf16))
    r.update(time_pairs(raw, args.quick))
    r.update(peak_rss_figures(args.quick, notes))
    r.update(fixed_costs_s(device))
    r.update(default_run_estimates(r, bf16, notes))
    r.update(dvc_figures(args.skip_dvc, notes))
    r["bench_wall_s"] = time.perf_counter() - t_start
    r["notes"] = notes

    print_report(r)
    if args.profile:
        print(profile_siamese(images, labels, device))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=2) + "\n")
    print(f"wrote {out}")


def print_report(r: dict) -> None:
    """The figures of ``r`` as a table, then the op-profile and block tables, then the notes."""
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
    rows += [("achieved train GFLOP/s", f"{r['achieved_train_flops_per_s'] / 1e9:.1f}"),
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
    for k, v in r["notes"].items():
        print(f"note: {k}: {v}")


if __name__ == "__main__":
    main()
