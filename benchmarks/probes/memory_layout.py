"""Channels-last against contiguous (NCHW) memory for the training step, each conv-block layout.

    python benchmarks/probes/memory_layout.py [--rounds 3]

A synthetic CNN step (premade batch of 256, AdamW; no data path), alternated round by round, median
images/s and the ratio to what training uses (channels-last, <model>.block conv_bn_relu_pool).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks" / "probes"))
import compile_ops  # noqa: E402  (its synthetic step)

from siamese_mnist.runtime import cpu_features, cpu_name, set_threads, tune_malloc  # noqa: E402


def make_step(block: str, channels_last: bool):
    step = compile_ops.make_step(False, block, channels_last)
    for _ in range(3):
        step()
    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tune_malloc()
    set_threads(0)
    steps = {(b, cl): make_step(b, cl) for b in ("conv_bn_relu_pool", "conv_pool_bn_relu") for cl in (True, False)}
    rates = {k: [] for k in steps}
    for _ in range(args.rounds):
        for k, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(15):
                step()
            rates[k].append(256 * 15 / (time.perf_counter() - t0))
    print(f"# {cpu_name()} ({' '.join(cpu_features())}), {torch.get_num_threads()} threads, torch {torch.__version__}")
    base = statistics.median(rates[("conv_bn_relu_pool", True)])
    for (b, cl), r in rates.items():
        print(f"{b:18} {'channels-last' if cl else 'NCHW':14} {statistics.median(r):6.0f} images/s  "
              f"{statistics.median(r) / base:.2f}x")


if __name__ == "__main__":
    main()
