"""Which lever speeds training on this CPU: precision, threads, batch size, torch.compile — side by side.

    python benchmarks/levers.py [--items 6000] [--rounds 2] [--compile]

Times the project's real training step (``training.train`` through ``benchmarks/bench.py``'s
``project_epoch_s``) of the Siamese network — the model with the largest share of a default run —
for every combination, alternating the combinations round by round so that a busy machine slows all
of them alike, and prints the median images/s of each with its ratio to what a default run uses (one
thread per available core, batch 256, the precision ``train.amp: auto`` picks here). ``--compile``
adds a separate, synthetic step (premade batch, no augmentation) of the embedding network eager and
under ``torch.compile`` (first-step compile time reported apart). Batch size is a training
hyperparameter: a faster batch size changes results and would have to be chosen on validation.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=6000, help="pairs per timed epoch")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batches", default="128,256,512,1024")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the embedding network")
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # per-epoch bars would bury the table
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch

    import bench  # its training-step timer and settings: one definition of both
    import workload  # bench's batch size, read by the timer at each call
    from siamese_mnist.datasets.splits import load_split
    from siamese_mnist.runtime import available_cores, cpu_features, cpu_name, native_bf16, tune_malloc

    tune_malloc()
    features = cpu_features()
    cores = available_cores()  # what a stage's default thread count is
    threads = sorted({1, cores})
    precisions = [False, True] if native_bf16(torch.device("cpu")) else [False]
    batches = sorted({256, *(int(b) for b in args.batches.split(","))})
    images, labels = load_split(bench.raw_dir(), "train")
    images, labels = images[:args.items], labels[:args.items]
    cpu = torch.device("cpu")
    combos = list(itertools.product(threads, batches, precisions))
    times: dict[tuple, list[float]] = {c: [] for c in combos}
    for _ in range(args.rounds):
        for t, b, amp in combos:
            torch.set_num_threads(t)
            workload.BATCH = b
            times[(t, b, amp)].append(2 * len(labels) / bench.project_epoch_s("siamese", images, labels, cpu, 2, amp))
    default = (max(threads), 256, precisions[-1])
    print(f"cpu: {cpu_name()} ({' '.join(features)}), {cores} cores, torch {torch.__version__}; "
          f"Siamese network, {len(labels)} pairs an epoch, median of {args.rounds}")
    print(f"{'threads':>7} {'batch':>5} {'precision':>9} {'images/s':>9} {'vs default':>10}")
    base = statistics.median(times[default])
    for (t, b, amp), v in times.items():
        m = statistics.median(v)
        print(f"{t:>7} {b:>5} {'bf16' if amp else 'fp32':>9} {m:>9.0f} {m / base:>9.2f}x")
    if args.compile:
        compile_step(bench, images, labels, max(threads), precisions)


def compile_step(bench, images, labels, threads: int, precisions: list[bool]) -> None:
    """A synthetic Siamese step (premade batch, contrastive loss, AdamW), eager and with the embedding
    network under torch.compile (inductor)."""
    import torch

    from siamese_mnist.losses import contrastive_loss
    from siamese_mnist.models import build_model

    torch.set_num_threads(threads)
    x = torch.randn(512, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    same = torch.randint(0, 2, (256,))
    for amp in precisions:
        rates = {}
        for mode in ("eager", "compiled"):
            torch.manual_seed(0)
            model = build_model("siamese", bench.MODEL).to(memory_format=torch.channels_last)
            net = torch.compile(model.embedding) if mode == "compiled" else model.embedding
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

            def step():
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                    a, b = net(x).chunk(2)
                    loss = contrastive_loss(a.float(), b.float(), same, 1.0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            t0 = time.perf_counter()
            step()
            first = time.perf_counter() - t0
            for _ in range(3):
                step()
            t0, n = time.perf_counter(), 0
            while time.perf_counter() - t0 < 5:
                step()
                n += 512
            rates[mode] = n / (time.perf_counter() - t0)
            print(f"{'bf16' if amp else 'fp32'} {mode:>8}: {rates[mode]:.0f} images/s (first step {first:.1f} s)")
        print(f"{'bf16' if amp else 'fp32'} compiled / eager: {rates['compiled'] / rates['eager']:.2f}x")


if __name__ == "__main__":
    main()
